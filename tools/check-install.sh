#!/bin/sh
# Installs into a temporary DESTDIR, then builds and runs a small program
# against the installed copy using only pkg-config (shared and --static).
make=${1:-make}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
prefix=/opt/kefu-test
$make -s install DESTDIR="$tmp" PREFIX=$prefix >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; echo "install: FAILED"; exit 1; }
root=$tmp$prefix
# pkg-config sees the DESTDIR copy through its sysroot support.
export PKG_CONFIG_PATH=$root/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$tmp
cat > "$tmp/p.c" <<'C'
#include <kefu.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    kefu_text *t = NULL;
    kefu_token tok;
    if (strcmp(kefu_version_string(), KEFU_VERSION_STRING) ||
        kefu_version_number() != KEFU_VERSION_NUMBER)
        return 1;
    if (kefu_text_new(&t, NULL) || kefu_text_run(t, "Ｈｉ 你好", strlen("Ｈｉ 你好")))
        return 2;
    memset(&tok, 0, sizeof tok);
    tok.size = sizeof tok;
    if (kefu_text_token_count(t) != 3 || kefu_text_token(t, 0, &tok) ||
        tok.text_len != 2 || memcmp(tok.text, "hi", 2))
        return 3;
    kefu_text_free(t);
    puts("ok");
    return 0;
}
C
for mode in shared static; do
  if [ $mode = static ]; then flags=$(pkg-config --cflags --libs --static kefu) || exit 1
  else flags=$(pkg-config --cflags --libs kefu) || exit 1; fi
  if [ $mode = static ]; then
    # prefer the archive: point the linker at it explicitly through pkg-config's -L
    flags=$(echo "$flags" | sed 's/-lkefu/-l:libkefu.a/')
  fi
  cc "$tmp/p.c" $flags -o "$tmp/p-$mode" || { echo "install: FAILED to link ($mode) with: $flags"; exit 1; }
  out=$(LD_LIBRARY_PATH=$root/lib "$tmp/p-$mode" 2>&1); rc=$?
  [ $rc -eq 0 ] || { echo "install: FAILED to run ($mode): exit $rc $out"; exit 1; }
  [ "$out" = ok ] || { echo "install: wrong output ($mode)"; exit 1; }
done
if ldd "$tmp/p-static" | grep -q libkefu; then echo "install: static program links libkefu.so"; exit 1; fi
soname=$(readelf -d "$root/lib/libkefu.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
$make -s uninstall DESTDIR="$tmp" PREFIX=$prefix >/dev/null 2>&1
left=$(find "$tmp$prefix" -type f | wc -l)
[ "$left" -eq 0 ] || { echo "install: uninstall left $left files"; exit 1; }
echo "install: ok (pkg-config shared + static, soname $soname, uninstall clean)"
