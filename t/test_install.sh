#!/usr/bin/env bash
# t/test_install.sh: `make install` and `make uninstall` into a DESTDIR, as
# a packager runs them (no server started): every file lands under the GNU
# directory variables; the man pages render without a warning (groff -ww,
# mandoc -Tlint when installed) and stockade.conf(5) names every key the
# binary knows with its default, stockade(8) every command and option of
# its --help; the systemd unit passes `systemd-analyze verify` (when
# installed) and its Type matches how the binary was built; and uninstall
# leaves no file behind.  Exit status follows automake: 0 pass, 1 fail.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR, STOCKADE_BUILDDIR (make check
# sets them; by hand they default to this checkout, built in place).
set -uo pipefail

T_DIR=$(cd "$(dirname "$0")" && pwd)
STOCKADE_SRCDIR="${STOCKADE_SRCDIR:-$(cd "$T_DIR/.." && pwd)}"
STOCKADE_BUILDDIR="${STOCKADE_BUILDDIR:-$STOCKADE_SRCDIR}"
STOCKADE_BIN="${STOCKADE_BIN:-$STOCKADE_BUILDDIR/src/stockade}"

# shellcheck source=t/lib/assert.sh
. "$T_DIR/lib/assert.sh"

[ -f "$STOCKADE_BUILDDIR/Makefile" ] || { echo "not configured: $STOCKADE_BUILDDIR" >&2; exit 99; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/stockade-install.XXXXXX") || exit 99
trap 'rm -rf "$WORK"' EXIT
DEST=$WORK/dest

# The installation directories as the Makefile has them (distcheck gives
# its own prefix): one "name=value" line each.
make -s -C "$STOCKADE_BUILDDIR" -f Makefile -f - print-dirs >"$WORK/dirs" <<'MK' || exit 99
print-dirs:
	@printf '%s\n' sbindir=$(sbindir) sysconfdir=$(sysconfdir) \
	    pkgdatadir=$(pkgdatadir) docdir=$(docdir) mandir=$(mandir) \
	    prefix=$(prefix) systemdsystemunitdir=$(systemdsystemunitdir)
MK
dir() { sed -n "s/^$1=//p" "$WORK/dirs"; }
MAN=$DEST$(dir mandir)
UNITDIR=$(dir systemdsystemunitdir)

# --- install -----------------------------------------------------------------

make -s -C "$STOCKADE_BUILDDIR" install DESTDIR="$DEST" >"$WORK/install.log" 2>&1
ok $? "make install DESTDIR=... succeeds"

want=(
	"$(dir sbindir)/stockade"
	"$(dir sysconfdir)/stockade/stockade.conf.sample"
	"$(dir pkgdatadir)/nginx/stockade.conf"
	"$(dir pkgdatadir)/nginx/example-site.conf"
	"$(dir docdir)/README.md"
	"$(dir docdir)/architecture.md"
	"$(dir docdir)/benchmarks.md"
	"$(dir docdir)/configuration.md"
	"$(dir docdir)/coupons.md"
	"$(dir docdir)/install.md"
	"$(dir docdir)/openapi.yaml"
	"$(dir docdir)/operations.md"
	"$(dir mandir)/man5/stockade.conf.5"
	"$(dir mandir)/man8/stockade.8"
	"$(dir prefix)/lib/sysusers.d/stockade.conf"
	"$(dir prefix)/lib/tmpfiles.d/stockade.conf"
)
[ -n "$UNITDIR" ] && want+=("$UNITDIR/stockade.service")
got=$(cd "$DEST" && find . -type f -o -type l | sed 's/^\.//' | sort)
is "$got" "$(printf '%s\n' "${want[@]}" | sort)" "install puts exactly the expected files, nothing outside DESTDIR"
[ -x "$DEST$(dir sbindir)/stockade" ]
ok $? "the daemon is installed executable in sbindir"
cmp -s "$DEST$(dir sysconfdir)/stockade/stockade.conf.sample" "$STOCKADE_SRCDIR/etc/stockade.conf.sample"
ok $? "the sample is etc/stockade.conf.sample"
grep -q "include $(dir pkgdatadir)/nginx/stockade.conf;" "$DEST$(dir pkgdatadir)/nginx/example-site.conf"
ok $? "the example site includes the snippet where it is installed"

# --- man pages ---------------------------------------------------------------

for page in man8/stockade.8 man5/stockade.conf.5; do
	out=$(LC_ALL=C.UTF-8 groff -ww -z -man "$MAN/$page" 2>&1)
	is "$out" "" "groff -ww -z -man $page: no warning"
	if command -v mandoc >/dev/null; then
		out=$(mandoc -Tlint "$MAN/$page" 2>&1)
		is "$out" "" "mandoc -Tlint $page: clean"
	else
		diag "mandoc not installed: -Tlint skipped"
	fi
done

# Every key the binary knows, with its default (config-check on an empty
# file prints each key = default), has its entry in stockade.conf(5).
: >"$WORK/empty.conf"
"$STOCKADE_BIN" config-check -c "$WORK/empty.conf" >"$WORK/defaults" 2>/dev/null
missing=
nkeys=0
while IFS= read -r line; do
	key=${line%% = *}
	dflt=${line#* = }
	nkeys=$((nkeys + 1))
	# The page writes - as \- and the default in italics.
	entry="\\fB${key//-/\\-}\\fR = \\fI${dflt//-/\\-}\\fR"
	grep -qxF "$entry" "$MAN/man5/stockade.conf.5" || missing="$missing $key"
done <"$WORK/defaults"
[ "$nkeys" -gt 30 ]
ok $? "config-check lists the keys ($nkeys)"
is "${missing# }" "" "stockade.conf(5) has every key with its default"

# Every command and long option of --help is in stockade(8).
"$STOCKADE_BIN" --help >"$WORK/help"
missing=
for cmd in $(sed -n 's/^  \([a-z-]*\)  .*/\1/p' "$WORK/help"); do
	grep -qxF ".B ${cmd//-/\\-}" "$MAN/man8/stockade.8" || missing="$missing $cmd"
	"$STOCKADE_BIN" "$cmd" --help >>"$WORK/help"
done
for opt in $(grep -o -- '--[a-z]*' "$WORK/help" | sort -u); do
	grep -qF -- "${opt//-/\\-}" "$MAN/man8/stockade.8" || missing="$missing $opt"
done
is "${missing# }" "" "stockade(8) has every command and option of --help"

# --- systemd -----------------------------------------------------------------

if [ -n "$UNITDIR" ]; then
	unit=$DEST$UNITDIR/stockade.service
	# Not `ldd | grep -q`: grep quitting early fails ldd under pipefail.
	case $(ldd "$STOCKADE_BIN") in
	*libsystemd*) type=notify ;;
	*) type=simple ;;
	esac
	grep -qx "Type=$type" "$unit"
	ok $? "the unit's Type is $type, as the binary was built"
	like "$(grep '^ExecStart=' "$unit")" "^ExecStart=$(dir sbindir)/stockade serve -c $(dir sysconfdir)/stockade/stockade.conf$" \
		"ExecStart runs the installed binary with the installed config"
	if command -v systemd-analyze >/dev/null; then
		# verify wants the binary where ExecStart names it: the copy
		# names it inside DESTDIR, and man finds the pages there.
		sed "s|=$(dir sbindir)/|=$DEST$(dir sbindir)/|" "$unit" >"$WORK/stockade.service"
		out=$(MANPATH=$MAN systemd-analyze verify "$WORK/stockade.service" 2>&1)
		rc=$?
		ok "$rc" "systemd-analyze verify stockade.service"
		[ "$rc" = 0 ] || diag "$out"
	else
		diag "systemd-analyze not installed: verify skipped"
	fi
fi

# --- uninstall ---------------------------------------------------------------

make -s -C "$STOCKADE_BUILDDIR" uninstall DESTDIR="$DEST" >"$WORK/uninstall.log" 2>&1
ok $? "make uninstall DESTDIR=... succeeds"
left=$(cd "$DEST" && find . -type f -o -type l)
is "$left" "" "uninstall leaves no file"

done_testing
