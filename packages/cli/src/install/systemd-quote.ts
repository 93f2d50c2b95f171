import { RbeeError } from '@rbee/common/base'

// A line break would end the setting and start another one (`ExecStartPre=…` runs anything), and
// systemd has no way to carry control characters in a path; such paths are refused.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/

function refuseControl(value: string): void {
  if (CONTROL.test(value)) {
    throw new RbeeError(
      'RBEE_CONFIG',
      `a path with control characters (a line break, a tab) cannot go into a systemd unit: ${JSON.stringify(value)}`,
    )
  }
}

/** `%` starts a specifier (`%h`) in every unit setting; `%%` is a literal one. */
const specifiers = (value: string): string => value.replace(/%/g, '%%')

/**
 * One argument of `ExecStart=`, quoted so systemd passes it on as it is: double quotes, `\` and
 * `"` escaped (systemd unescapes C-style), `$` as `$$` (no variable expansion), `%` as `%%`.
 * @throws RbeeError `RBEE_CONFIG` for control characters.
 */
export function systemdWord(value: string): string {
  refuseControl(value)
  return `"${specifiers(value.replace(/["\\]/g, '\\$&').replace(/\$/g, '$$$$'))}"`
}

/**
 * An absolute path as the value of a path setting (`EnvironmentFile=`), which systemd takes
 * whole, unquoted, with specifiers expanded and surrounding white space dropped.
 * @throws RbeeError `RBEE_CONFIG` for control characters or surrounding white space.
 */
export function systemdPath(value: string): string {
  refuseControl(value)
  if (value.trim() !== value) {
    throw new RbeeError(
      'RBEE_CONFIG',
      `a path that starts or ends with a space cannot go into a systemd unit: ${JSON.stringify(value)}`,
    )
  }
  return specifiers(value)
}
