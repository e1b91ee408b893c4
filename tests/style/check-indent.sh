#!/usr/bin/env bash
# Every C file must already be in GStreamer's indent style (GNU indent with
# gst-indent's settings, run twice): a file that changes under it fails.
set -u
top=${1:?usage: check-indent.sh SOURCE_ROOT}
opts=(--braces-on-if-line --case-brace-indentation0 --case-indentation2
  --braces-after-struct-decl-line --line-length80 --no-tabs --cuddle-else
  --dont-line-up-parentheses --continuation-indentation4 --honour-newlines
  --tab-size8 --indent-level2 --leave-preprocessor-space)
command -v indent >/dev/null || { echo "GNU indent is not installed (apt-get install indent)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bad=0
while IFS= read -r f; do
  indent "${opts[@]}" -o "$tmp/1.c" "$f" 2>/dev/null && indent "${opts[@]}" -o "$tmp/2.c" "$tmp/1.c" 2>/dev/null
  if ! cmp -s "$tmp/2.c" "$f"; then
    echo "not in GStreamer indent style: ${f#$top/}"
    diff -u "$f" "$tmp/2.c" | head -20
    bad=1
  fi
done < <(find "$top/gst" "$top/ext" "$top/tests" "$top/examples" "$top/bench" -name '*.c' 2>/dev/null | sort)
[ $bad -eq 0 ] && echo "all C files follow GStreamer's indent style"
exit $bad
