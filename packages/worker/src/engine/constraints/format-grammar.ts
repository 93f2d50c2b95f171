import { gbnfChars, QUOTE } from './gbnf.js'
import { integerRangeGrammar } from './numeric-grammar.js'

// The string formats rbee writes beyond node-llama-cpp's own (date, time, date-time), each as a
// grammar of a subset of the format that validators (RFC 3986, RFC 5321's common form, RFC 4122,
// dotted-quad IPv4) accept.

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
const HEX = '[0-9a-f]'
const PCT = `"%" [0-9A-F]{2}`
const segmentChar = `(${gbnfChars(`${ALNUM}-._~!$&'()*+,;=:@`)} | ${PCT})`
const queryChar = `(${gbnfChars(`${ALNUM}-._~!$&'()*+,;=:@/?`)} | ${PCT})`
const label = `${gbnfChars(ALNUM)} (${gbnfChars(`${ALNUM}-`)}{0,61} ${gbnfChars(ALNUM)})?`
const octet = integerRangeGrammar(0, 255)!

const FORMAT_GRAMMARS: Record<string, string> = {
  // scheme://host[:port][/path][?query][#fragment]
  uri: [
    QUOTE,
    `[a-zA-Z] ${gbnfChars(`${ALNUM}+.-`)}*`,
    '"://"',
    `${label} ("." ${label})*`,
    '(":" [0-9]{1,5})?',
    `("/" ${segmentChar}*)*`,
    `("?" ${queryChar}*)?`,
    `("#" ${queryChar}*)?`,
    QUOTE,
  ].join(' '),
  email: [
    QUOTE,
    `${gbnfChars(`${ALNUM}!#$%&'*+/=?^_\`{|}~-`)}+`,
    `("." ${gbnfChars(`${ALNUM}!#$%&'*+/=?^_\`{|}~-`)}+)*`,
    '"@"',
    `${label} ("." ${label})+`,
    QUOTE,
  ].join(' '),
  uuid: [QUOTE, `${HEX}{8} "-" ${HEX}{4} "-" ${HEX}{4} "-" ${HEX}{4} "-" ${HEX}{12}`, QUOTE].join(' '),
  ipv4: [QUOTE, `${octet} "." ${octet} "." ${octet} "." ${octet}`, QUOTE].join(' '),
}

/** GBNF of a JSON string of `format`, for the formats rbee writes itself (undefined for others). */
export function formatGrammar(format: string): string | undefined {
  return Object.hasOwn(FORMAT_GRAMMARS, format) ? FORMAT_GRAMMARS[format] : undefined
}
