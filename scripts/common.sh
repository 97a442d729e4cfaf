# Shared by the project's shell scripts: source it after setting SCRIPT_NAME.
# log/die write to stderr under the script's name; run prints a command (shell-quoted)
# instead of running it when DRY_RUN is set, so tests can check what a script would do.

log() { printf '%s: %s\n' "${SCRIPT_NAME:-script}" "$*" >&2; }
die() { log "$*"; exit 1; }

run() {
    if [[ -n ${DRY_RUN:-} ]]; then
        printf '+'
        printf ' %q' "$@"
        printf '\n'
    else
        "$@"
    fi
}
