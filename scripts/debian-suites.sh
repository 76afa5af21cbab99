# Sourced by the install scripts (install-qemu.sh, install-vulkan.sh, install-sdl2.sh): the image's
# Debian suites and its backports suite, which some of the checks' packages come from. Backports
# is added as a sources file of the project's own,
# /etc/apt/sources.list.d/mnist-edge-backports.sources; the image's debian.sources is never edited.

sudo=$([ "$(id -u)" = 0 ] || echo sudo)
. /etc/os-release
backports="${VERSION_CODENAME:?/etc/os-release names no codename}-backports"
backports_file=/etc/apt/sources.list.d/mnist-edge-backports.sources
# The archive the image's own sources use (deb.debian.org or a mirror).
archive=$(sed -n 's/^URIs: *\([^ ]*\/debian\)\/\{0,1\}$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
archive=${archive:-http://deb.debian.org/debian}

# The suites' entries, as a deb822 stanza of type $1 (deb or deb-src) for the suites $2.
stanza() {
  printf 'Types: %s\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$1" "$archive" "$2"
}

# Makes the backports suite known to apt (its package lists are fetched by the next update).
add_backports() {
  [ -f "$backports_file" ] || stanza deb "$backports" | $sudo tee "$backports_file" >/dev/null
}
