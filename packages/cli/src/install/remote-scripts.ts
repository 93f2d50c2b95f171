import { RbeeError } from '@rbee/common/base'
import { shQuote } from '../ssh/sh-quote.js'
import { systemdPath, systemdWord } from './systemd-quote.js'

/** `~/x` or `x` → `/home/u/x`; absolute paths stay. */
export function remoteAbsolute(path: string, home: string): string {
  if (path === '~') return home
  if (path.startsWith('~/')) return `${home}/${path.slice(2)}`
  if (path.startsWith('/')) return path
  return `${home}/${path}`
}

const pathSegments = (path: string): string[] => path.split('/').filter((s) => s !== '')

/**
 * The install directory for a `BinaryPath` on a machine whose home is `home`: absolute, without
 * repeated or trailing slashes. Uninstalling removes this directory, so one that is `/`, the
 * home directory or above it, or that goes through `.` or `..`, is refused.
 * @throws RbeeError `RBEE_CONFIG` for such a path.
 */
export function installRoot(binaryPath: string, home: string): string {
  const segments = pathSegments(remoteAbsolute(binaryPath, home))
  const refuse = (why: string): never => {
    throw new RbeeError('RBEE_CONFIG', `BinaryPath ${JSON.stringify(binaryPath)} ${why}`)
  }
  if (segments.some((s) => s === '.' || s === '..')) refuse('must not go through . or ..')
  const root = `/${segments.join('/')}`
  const normalHome = `/${pathSegments(home).join('/')}`
  if (root === '/' || `${normalHome}/`.startsWith(`${root}/`)) {
    refuse(`is ${root}: uninstalling would remove it, so rbee needs a directory of its own there`)
  }
  return root
}

/** Where things live on a machine rbee installed a hive on. */
export interface RemoteLayout {
  /** The install directory (`BinaryPath`, absolute). */
  root: string
  /** The hive's settings (`KEY=value`, mode 600): read by the start script and by systemd. */
  envFile: string
  startScript: string
  stopScript: string
  /** The hive's entry point. */
  hiveMain: string
  /** Node on that machine (absolute). */
  node: string
  /** systemd user unit (only written when systemd is used). */
  unitFile: string
  /** Pid file and log of a hive started without systemd. */
  pidFile: string
  logFile: string
}

/** The unit name of an installed hive. */
export const UNIT = 'rbee-hive.service'

/** The layout under an install directory. */
export function remoteLayout(root: string, home: string, node: string): RemoteLayout {
  return {
    root,
    envFile: `${root}/hive.env`,
    startScript: `${root}/bin/rbee-hive-start`,
    stopScript: `${root}/bin/rbee-hive-stop`,
    hiveMain: `${root}/packages/hive/dist/main.js`,
    node,
    unitFile: `${home}/.config/systemd/user/${UNIT}`,
    pidFile: `${root}/run/hive.pid`,
    logFile: `${root}/logs/hive.log`,
  }
}

const SAFE_VALUE = /^[A-Za-z0-9._:/@%+=,~-]*$/

/**
 * The env file: every hive setting as an `RBEE_*` variable, in a form both `sh` (`. file`) and
 * systemd's `EnvironmentFile=` read the same way (no quoting needed, so none is allowed).
 * @throws RbeeError `RBEE_CONFIG` for a value with characters that would need quoting.
 */
export function envFileText(vars: Record<string, string | undefined>): string {
  const lines = ['# written by `rbee hive install`; the hive reads its settings from here']
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) continue
    if (!SAFE_VALUE.test(v)) {
      throw new RbeeError(
        'RBEE_CONFIG',
        `${k} has characters that cannot go into the hive's env file: ${JSON.stringify(v)}`,
      )
    }
    lines.push(`${k}=${v}`)
  }
  return `${lines.join('\n')}\n`
}

/** The start script of a hive run without systemd: detached, own session, pid file, log. */
export function startScriptText(l: RemoteLayout): string {
  return `#!/bin/sh
# Starts rbee-hive in the background (written by \`rbee hive install\`).
set -e
PIDFILE=${shQuote(l.pidFile)}
LOG=${shQuote(l.logFile)}
mkdir -p "$(dirname "$PIDFILE")" "$(dirname "$LOG")"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "rbee-hive is already running (pid $(cat "$PIDFILE"))"
  exit 0
fi
set -a
. ${shQuote(l.envFile)}
set +a
cd "$HOME"
SETSID=
if command -v setsid >/dev/null 2>&1; then SETSID=setsid; fi
nohup $SETSID ${shQuote(l.node)} ${shQuote(l.hiveMain)} >>"$LOG" 2>&1 </dev/null &
echo $! >"$PIDFILE"
echo "rbee-hive started (pid $!)"
`
}

/** The stop script: SIGTERM (the hive stops its workers), SIGKILL after 30 s. */
export function stopScriptText(l: RemoteLayout): string {
  return `#!/bin/sh
# Stops a rbee-hive started by rbee-hive-start (written by \`rbee hive install\`).
PIDFILE=${shQuote(l.pidFile)}
[ -f "$PIDFILE" ] || { echo "rbee-hive is not running"; exit 0; }
PID=$(cat "$PIDFILE")
if kill -0 "$PID" 2>/dev/null; then
  kill -TERM "$PID"
  i=0
  while kill -0 "$PID" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
  if kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID"; echo "rbee-hive did not stop in 30 s: killed"; fi
  echo "rbee-hive stopped (pid $PID)"
else
  echo "rbee-hive is not running"
fi
rm -f "$PIDFILE"
`
}

/** A systemd user unit for the hive. */
export function unitText(l: RemoteLayout): string {
  return `# written by \`rbee hive install\`
[Unit]
Description=rbee-hive (rbee's per-machine daemon)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
EnvironmentFile=${systemdPath(l.envFile)}
ExecStart=${systemdWord(l.node)} ${systemdWord(l.hiveMain)}
Restart=on-failure
RestartSec=2
KillMode=mixed
TimeoutStopSec=30

[Install]
WantedBy=default.target
`
}

function heredoc(path: string, text: string, mode: string): string {
  // The here-document ends at the first line that is its tag alone: pick one no line of the text is.
  const lines = new Set(text.split('\n'))
  let tag = 'RBEE_EOF'
  for (let i = 0; lines.has(tag); i++) tag = `RBEE_EOF_${i}`
  // A secret file is created private (umask), not made private after being written.
  const umask = mode === '600' ? '077' : '022'
  return `(umask ${umask}; rm -f ${shQuote(path)}; cat >${shQuote(path)} <<'${tag}'\n${text}${text.endsWith('\n') ? '' : '\n'}${tag}\n)\nchmod ${mode} ${shQuote(path)}\n`
}

/** Options of the install script. */
export interface InstallScriptOptions {
  layout: RemoteLayout
  /** The uploaded tarball (absolute, removed after unpacking). */
  tarball: string
  env: string
  /** Run `npm install --omit=dev` there (the bundle has no node_modules for that machine). */
  npmInstall: boolean
  systemd: boolean
  /** The @rbee packages (short names) to link into node_modules. */
  packages: string[]
}

/**
 * The script that installs and starts the hive: stops a running one, unpacks into a fresh
 * directory and swaps it in (a failed unpack leaves the old install), writes settings and
 * scripts, then starts it with systemd or detached. Prints `RBEE_STEP <what>` lines as it goes.
 */
export function installScriptText(o: InstallScriptOptions): string {
  const l = o.layout
  const step = (msg: string): string => `step ${shQuote(msg)}`
  const root = shQuote(l.root)
  const fresh = shQuote(`${l.root}.new`)
  const old = shQuote(`${l.root}.old`)
  const links = o.packages
    .map(
      (p) => `ln -sfn ${shQuote(`../../packages/${p}`)} ${shQuote(`${l.root}.new/node_modules/@rbee/${p}`)}`,
    )
    .join('\n')
  return `set -e
umask 022
step() { printf 'RBEE_STEP %s\n' "$*"; }
${step('stopping a running hive, if any')}
if [ -f ${shQuote(l.unitFile)} ] && command -v systemctl >/dev/null 2>&1; then systemctl --user stop ${UNIT} 2>/dev/null || true; fi
if [ -x ${shQuote(l.stopScript)} ]; then ${shQuote(l.stopScript)} >/dev/null 2>&1 || true; fi
${step(`unpacking into ${l.root}`)}
rm -rf ${fresh}
mkdir -p ${fresh}
# tar would read backslash escapes in a -C or -f argument (GNU tar unquotes them): the shell opens both.
(cd ${fresh} && tar -xzf - <${shQuote(o.tarball)})
rm -f ${shQuote(o.tarball)}
mkdir -p ${fresh}/node_modules/@rbee ${fresh}/bin ${fresh}/run ${fresh}/logs
${
  o.npmInstall
    ? `${step('installing dependencies with npm install --omit=dev (the bundled ones do not fit this machine)')}
(cd ${fresh} && npm install --omit=dev --no-audit --no-fund --loglevel=error)`
    : links
}
${heredoc(`${l.root}.new/hive.env`, o.env, '600')}${heredoc(`${l.root}.new/bin/rbee-hive-start`, startScriptText(l), '755')}${heredoc(`${l.root}.new/bin/rbee-hive-stop`, stopScriptText(l), '755')}if [ -d ${root}/logs ]; then cp -R ${root}/logs/. ${fresh}/logs/ 2>/dev/null || true; fi
rm -rf ${old}
if [ -e ${root} ]; then mv ${root} ${old}; fi
mv ${fresh} ${root}
rm -rf ${old}
${
  o.systemd
    ? `${step(`starting with systemd (${UNIT})`)}
mkdir -p ${shQuote(l.unitFile.slice(0, l.unitFile.lastIndexOf('/')))}
${heredoc(l.unitFile, unitText(l), '644')}systemctl --user daemon-reload
systemctl --user enable ${UNIT} >/dev/null 2>&1 || true
systemctl --user restart ${UNIT}
if command -v loginctl >/dev/null 2>&1; then loginctl enable-linger "$(id -un)" 2>/dev/null || echo "RBEE_NOTE could not enable lingering: the hive stops when $(id -un) logs out (run: sudo loginctl enable-linger $(id -un))"; fi`
    : `${step('starting in the background (no systemd user manager there)')}
${shQuote(l.startScript)}`
}
${step('done')}
`
}

// The hive's default data dir, expanded by the remote shell.
const PURGE_DATA = [
  'rm -rf "$',
  '{XDG_DATA_HOME:-$HOME/.local/share}/rbee"',
  '\necho "removed the data dir (models, catalog)"',
].join('')

/** Stops the hive and removes the install (and with `purge`, its models and catalog). */
export function uninstallScriptText(l: RemoteLayout, purge: boolean): string {
  return `set -e
if [ -f ${shQuote(l.unitFile)} ]; then
  systemctl --user disable --now ${UNIT} >/dev/null 2>&1 || true
  rm -f ${shQuote(l.unitFile)}
  systemctl --user daemon-reload 2>/dev/null || true
fi
if [ -x ${shQuote(l.stopScript)} ]; then ${shQuote(l.stopScript)} || true; fi
rm -rf ${shQuote(l.root)} ${shQuote(`${l.root}.new`)} ${shQuote(`${l.root}.old`)}
${purge ? PURGE_DATA : ''}
printf 'removed %s\n' ${shQuote(l.root)}
`
}

/** Starts an installed hive (systemd when its unit is there). */
export function startCommandText(l: RemoteLayout): string {
  return `if [ -f ${shQuote(l.unitFile)} ]; then systemctl --user start ${UNIT} && echo "rbee-hive started (systemd)"
elif [ -x ${shQuote(l.startScript)} ]; then ${shQuote(l.startScript)}
else echo "RBEE_NOT_INSTALLED"; exit 3; fi
`
}

/** Stops an installed hive. */
export function stopCommandText(l: RemoteLayout): string {
  return `if [ -f ${shQuote(l.unitFile)} ]; then systemctl --user stop ${UNIT} && echo "rbee-hive stopped (systemd)"
elif [ -x ${shQuote(l.stopScript)} ]; then ${shQuote(l.stopScript)}
else echo "RBEE_NOT_INSTALLED"; exit 3; fi
`
}

/** Prints the hive's log (journal or log file). */
export function logsCommandText(l: RemoteLayout, lines: number, follow: boolean): string {
  const f = follow ? ' -f' : ''
  const n = shQuote(String(lines))
  return `if [ -f ${shQuote(l.unitFile)} ]; then exec journalctl --user -u ${UNIT} -n ${n} --no-pager${f}
elif [ -f ${shQuote(l.logFile)} ]; then exec tail -n ${n}${f} ${shQuote(l.logFile)}
else echo "RBEE_NOT_INSTALLED"; exit 3; fi
`
}

/** Reports whether the hive process runs (`RBEE_RUNNING pid` or `RBEE_STOPPED`). */
export function processStatusText(l: RemoteLayout): string {
  return `if [ -f ${shQuote(l.unitFile)} ]; then
  if systemctl --user is-active --quiet ${UNIT}; then echo "RBEE_RUNNING $(systemctl --user show -p MainPID --value ${UNIT}) systemd"; else echo "RBEE_STOPPED systemd"; fi
elif [ -f ${shQuote(l.pidFile)} ] && kill -0 "$(cat ${shQuote(l.pidFile)})" 2>/dev/null; then echo "RBEE_RUNNING $(cat ${shQuote(l.pidFile)}) detached"
elif [ -x ${shQuote(l.startScript)} ]; then echo "RBEE_STOPPED detached"
else echo "RBEE_NOT_INSTALLED"; fi
`
}

/** Prints the end of the hive's log (its log file, else its journal), for an error message. */
export function logTailText(l: RemoteLayout, lines: number): string {
  const n = shQuote(String(lines))
  return `tail -n ${n} ${shQuote(l.logFile)} 2>/dev/null || journalctl --user -u ${UNIT} -n ${n} --no-pager 2>/dev/null
`
}

/** Prints the remote user's home directory (exactly, on one line). */
export const HOME_SCRIPT = `printf '%s\\n' "$HOME"
`
