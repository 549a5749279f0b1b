// The watchdog that stands between Sluice and every supervised child: a few lines of
// POSIX sh (it starts in about a millisecond, where a second node would take ~40 ms,
// which every cold start would pay).
//
// Why it exists: a child of a SIGKILLed parent is re-parented to init and keeps running.
// The watchdog leads its own process group (Sluice spawns it detached) and a background
// "lifeline" subshell reads the watchdog's stdin, a pipe whose write end only Sluice
// holds. When Sluice dies, for whatever reason, the kernel closes that pipe, `read`
// sees EOF, and the lifeline takes the whole group down: SIGTERM, then SIGKILL after the
// grace period. The command runs in the foreground of the same group (so it keeps its
// default signal handling), and `kill 0` reaches it and anything it started.
//
// Protocol: `sh -c WATCHDOG_SCRIPT sluice-watchdog <graceSeconds> <command> [args...]`.
// The command's stdout/stderr are the watchdog's own (the pipes Sluice reads). Its fate
// is written as one JSON line on fd 3, then the watchdog clears the group (as a
// container runtime does when the main process ends).
export const WATCHDOG_SCRIPT = `
grace="$1"; shift
if ! command -v -- "$1" >/dev/null 2>&1; then
  printf '{"code":null,"signal":null,"error":"spawn ENOENT: command not found or not executable"}\\n' >&3
  exit 127
fi
exec 4<&0
trap ':' TERM INT HUP
{
  # Ignored, not caught: a caught signal would interrupt read and look like EOF.
  trap '' TERM INT HUP
  while read -r _; do :; done
  kill -TERM 0 2>/dev/null
  sleep "$grace"
  kill -KILL 0 2>/dev/null
} <&4 >/dev/null 2>&1 3>&- &
lifeline=$!
"$@" </dev/null 3>&- 4<&-
status=$?
# Sluice may be gone (the fd 3 pipe has no reader): a SIGPIPE from printf must not stop
# the watchdog before its final kill, or the lifeline's sleep would outlive the group.
trap '' PIPE
# Reap the lifeline here, so that once the watchdog is gone its group is too.
kill -KILL "$lifeline" 2>/dev/null
wait "$lifeline" 2>/dev/null
if [ "$status" -gt 128 ] && sig=$(kill -l $((status - 128)) 2>/dev/null); then
  printf '{"code":null,"signal":"SIG%s"}\\n' "$sig" >&3
else
  printf '{"code":%d,"signal":null}\\n' "$status" >&3
fi
kill -KILL 0
`;
