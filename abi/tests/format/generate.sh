#!/usr/bin/env bash
# Regenerates expected.txt from the real SystemTap 4.8 translator (needs `stap`, see
# ../shared/tools/stap-oracle setup). For each line `FORMAT<TAB>ARGS` of cases.txt it runs
# `stap -p3` on `probe begin { printf("FORMAT", ARGS) }` and summarizes what the translator
# made of the format: the error message, or the compiled printf's components:
#   L"text"   literal           N(base,flags,width,precision)   number()
#   S(flags,width,precision)   %s    C(flags,width)   %c    B(width,precision)   %b
#   M(m|M,flags,width,precision)  %m/%M
# flags are the runtime's STP_* bits (ZEROPAD 1, SIGN 2, PLUS 4, SPACE 8, LEFT 16, SPECIAL 32,
# LARGE 64); width/precision are the C expressions' constants, `*` for an argument, -1 for none.
set -euo pipefail
cd "$(dirname "$0")"
out=expected.txt
: > "$out"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
while IFS=$'\t' read -r fmt args; do
  [[ -z $fmt || $fmt == '#'* ]] && continue
  printf 'probe begin { printf("%s"%s) }\n' "$fmt" "${args:+, $args}" > "$tmp/f.stp"
  if ! stap -p3 "$tmp/f.stp" > "$tmp/c" 2> "$tmp/e"; then
    msg=$(grep -m1 -oE '(parse|semantic) error: [^:]*' "$tmp/e" || echo "error")
    printf '%s\t%s\n' "$fmt" "$msg" >> "$out"
    continue
  fi
  summary=$(awk '/^static void stp_printf_1 /{on=1} on && /^  if \(str && str <= end\)/{body=1} on && body' "$tmp/c" |
    sed -nE \
      -e 's/^ *src = (".*");$/L\1/p' \
      -e 's/^ *width = clamp_t\(int, ([^,]+), .*/W \1/p' -e 's/^ *width = -1;/W -1/p' \
      -e 's/^ *precision = clamp_t\(int, ([^,]+), .*/P \1/p' -e 's/^ *precision = -1;/P -1/p' \
      -e 's/^ *str = number\(str, end, [^,]+, ([0-9]+), width, precision, ([0-9]+)\);/N \1 \2/p' \
      -e "s/^ *str = _stp_vsprint_memory\(str, end, [^,]+, width, precision, 's', ([0-9]+)\);/S \1/p" \
      -e "s/^ *str = _stp_vsprint_memory\(str, end, .*, width, precision, '(m|M)', ([0-9]+)\);/M \1 \2/p" \
      -e 's/^ *str = _stp_vsprint_char\(str, end, [^,]+, width, ([0-9]+)\);/C \1/p' \
      -e 's/^ *str = _stp_vsprint_binary\(str, end, [^,]+, width, precision, ([0-9]+)\);/B \1/p' |
    awk '
      /^W /{w=$2; sub(/l->arg[0-9]+/,"*",w); next}
      /^P /{p=$2; sub(/l->arg[0-9]+/,"*",p); next}
      /^L/{printf "%s ", $0; next}
      /^N /{printf "N(%s,%s,%s,%s) ", $2, $3, w, p; next}
      /^S /{printf "S(%s,%s,%s) ", $2, w, p; next}
      /^M /{printf "M(%s,%s,%s,%s) ", $2, $3, w, p; next}
      /^C /{printf "C(%s,%s) ", $2, w; next}
      /^B /{printf "B(%s,%s) ", w, p; next}')
  if [[ -z $summary ]]; then
    # No compiled printf: SystemTap turned a conversion-free format into _stp_print("...").
    summary=$(sed -nE -e 's/^ *_stp_print \(("[^"]*")\);$/L\1/p' -e 's/^ *_stp_print \(l->.*\);$/S(0,-1,-1)/p' "$tmp/c" | sed 's/^L""$//')
  fi
  printf '%s\t%s\n' "$fmt" "${summary% }" >> "$out"
done < cases.txt
