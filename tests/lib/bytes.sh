# tests/lib/bytes.sh: damage a file on purpose, always.
#
#   flip_byte FILE OFFSET   the byte at OFFSET becomes its complement
#                           (XOR 0xff): never the byte it was, whatever
#                           the file holds (writing a fixed value leaves
#                           the file unchanged when the byte already had
#                           it, one time in 256 for random content)
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' \n')
    [ -n "$b" ] || return 1
    # shellcheck disable=SC2059 # the octal escape is the format
    printf "$(printf '\\%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}
