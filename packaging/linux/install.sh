#!/bin/sh
# Install Hark for the current user from the unpacked Linux tarball (no root needed).
#
#   ./install.sh               install or upgrade
#   ./install.sh --autostart   ... and start Hark when you log in
#   ./install.sh --uninstall   remove the program (settings, history and keys stay);
#                              also ~/.local/opt/hark/install.sh --uninstall
#
# Puts the program in ~/.local/opt/hark, a `hark` command in ~/.local/bin, the menu entry
# in ~/.local/share/applications and the icon in the hicolor theme. PREFIX (default
# ~/.local) and XDG_DATA_HOME / XDG_CONFIG_HOME are honoured.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
data=${XDG_DATA_HOME:-$HOME/.local/share}
config=${XDG_CONFIG_HOME:-$HOME/.config}
target="$prefix/opt/hark"
apps="$data/applications"
icons="$data/icons/hicolor"
autostart="$config/autostart/hark.desktop"

refresh() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$apps" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icons" || true
}

case "${1:-}" in
--uninstall)
    rm -rf "$target"
    rm -f "$prefix/bin/hark" "$apps/hark.desktop" "$autostart" \
        "$icons/scalable/apps/hark.svg" "$icons/256x256/apps/hark.png"
    refresh
    echo "Hark removed. Your settings and history are still in ~/.config/hark and ~/.local/share/hark."
    exit 0
    ;;
--autostart | "") ;;
*)
    sed -n '2,13p' "$0"
    exit 2
    ;;
esac

if [ ! -x "$here/hark/hark" ]; then
    echo "install.sh: run me from the unpacked tarball (hark/hark is missing)" >&2
    exit 1
fi
mkdir -p "$prefix/opt" "$prefix/bin" "$apps" "$icons/scalable/apps" "$icons/256x256/apps"
rm -rf "$target.new"
cp -R "$here/hark" "$target.new"
rm -rf "$target"
mv "$target.new" "$target"
cp "$0" "$target/install.sh"  # so that `~/.local/opt/hark/install.sh --uninstall` works
ln -sf "$target/hark" "$prefix/bin/hark"
sed -e "s|^Exec=.*|Exec=$target/hark|" -e "s|^TryExec=.*|TryExec=$target/hark|" \
    "$here/hark.desktop" >"$apps/hark.desktop"
cp "$here/hark.svg" "$icons/scalable/apps/hark.svg"
[ -f "$here/hark-256.png" ] && cp "$here/hark-256.png" "$icons/256x256/apps/hark.png"
if [ "${1:-}" = "--autostart" ]; then
    mkdir -p "$(dirname "$autostart")"
    cp "$apps/hark.desktop" "$autostart"
fi
refresh
echo "Hark installed in $target; start it from the menu or run: $prefix/bin/hark"
"$target/hark" --self-check >/dev/null 2>&1 || echo "Note: run 'hark --self-check' to see what is missing."
