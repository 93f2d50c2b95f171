import { existsSync } from 'node:fs'
import { boolFlag, type CommandSpec, type ParsedArgs } from '../cli/args.js'
import { type CliContext, EXIT } from '../cli/context.js'
import { paint } from '../cli/output.js'
import { resolveSettings } from '../config/settings.js'
import { configuredHives } from '../hosts/hive-hosts.js'
import { queenFiles } from '../queen/queen-daemon.js'
import type { Command } from './command.js'

const spec: CommandSpec = {
  name: 'config',
  summary: 'Show where rbee keeps its config and data, and the settings in effect.',
  usage: '[options]',
  json: true,
  flags: {},
  examples: ['rbee config', 'rbee config --json | jq -r .data_dir'],
}

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const s = resolveSettings(ctx, args)
  const files = queenFiles(s.dataDir)
  let hives: string[] | string
  try {
    hives = (await configuredHives(s)).map((h) => h.id)
  } catch (err) {
    hives = `error: ${(err as Error).message}`
  }
  const report = {
    queen_url: s.queenUrl,
    queen_url_from:
      s.queenUrlSource === 'env' ? 'RBEE_QUEEN_URL' : s.queenUrlSource === 'flag' ? '--queen-url' : 'default',
    api_key: s.apiKey ? 'set' : 'not set',
    admin_key: s.adminKey ? 'set' : 'not set',
    node_token: s.nodeToken ? 'set' : 'not set',
    data_dir: s.dataDir,
    config_dir: s.configDir,
    hives_conf: s.hivesConf,
    hives_conf_exists: existsSync(s.hivesConf),
    hives,
    ssh_config: s.sshConfig,
    ssh_options: s.sshOptions,
    queen_pid_file: files.pidFile,
    queen_log: files.logFile,
  }
  if (boolFlag(args, 'json')) {
    ctx.out.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    return EXIT.ok
  }
  const c = ctx.out.color
  const rows: Array<[string, string]> = [
    ['queen URL', `${report.queen_url}  (${report.queen_url_from})`],
    ['API key', `${report.api_key}  (RBEE_API_KEY, --api-key)`],
    ['admin key', `${report.admin_key}  (RBEE_ADMIN_KEY, --admin-key)`],
    ['node token', `${report.node_token}  (RBEE_NODE_TOKEN)`],
    ['data dir', `${report.data_dir}  (RBEE_HOME)`],
    ['config dir', `${report.config_dir}  (RBEE_CONFIG_DIR)`],
    ['hives.conf', `${report.hives_conf}${report.hives_conf_exists ? '' : '  (not there yet)'}`],
    ['hives', Array.isArray(hives) ? hives.join(', ') || '(none configured)' : hives],
    ['ssh config', report.ssh_config],
    ['ssh options', report.ssh_options.join(' ') || '(none; RBEE_SSH_OPTIONS)'],
    ['queen pid file', report.queen_pid_file],
    ['queen log', report.queen_log],
  ]
  for (const [k, v] of rows) ctx.out.stdout.write(`${paint(c, 'bold', k.padEnd(16))}${v}\n`)
  return EXIT.ok
}

/** `rbee config`. */
export const configCommand: Command = { spec, run }
