#!/bin/sh
# Builds the stand-in libraries (see ldap.c, rtmp.c) into $1. Run in the image's build stage.
set -eu
out=$1
here=$(dirname "$0")
mkdir -p "$out"
cc="${CC:-cc} -shared -fPIC -O2 -Wall -Wextra -Werror -s"
$cc -Wl,-soname,liblber-2.5.so.0 -Wl,--version-script="$here/openldap.map" -DLBER \
  -o "$out/liblber-2.5.so.0" "$here/ldap.c"
$cc -Wl,-soname,libldap-2.5.so.0 -Wl,--version-script="$here/openldap.map" \
  -o "$out/libldap-2.5.so.0" "$here/ldap.c"
$cc -Wl,-soname,librtmp.so.1 -o "$out/librtmp.so.1" "$here/rtmp.c"
$cc -Wl,-soname,libgnutls.so.30 -Wl,--version-script="$here/gnutls.map" \
  -o "$out/libgnutls.so.30" "$here/gnutls.c"
