// @ts-check
/**
 * @file A microSD card in the board's slot, as far as a firmware that never uses it should
 * care: a card that sees its chip select low answers on MISO. In SPI mode an idle card holds
 * its output high between responses; the model does that whenever it is selected, which is the
 * worst case of a chip select left floating.
 */

/** The card's fastest SPI clock in default-speed mode. */
export const MAX_SPI_HZ = 25_000_000;

export class SdCard {
  constructor() {
    /** Bytes clocked while the card was selected. */
    this.bytesSeen = 0;
  }

  /**
   * @param {number} _byte
   * @returns {number}
   */
  transfer(_byte) {
    this.bytesSeen++;
    return 0xff;
  }

  deselect() {}
}
