import type { FastifyInstance } from 'fastify'
import { jsonNestsDeeperThan, jsonTooDeepError } from '../json-limits.js'

/**
 * Replaces fastify's JSON body parser with one that first refuses nesting deeper than
 * `MAX_JSON_DEPTH` (a 400 naming the limit), then parses as fastify does (`__proto__` and
 * `constructor.prototype` keys refused). A body nested two million levels deep otherwise parses
 * (V8's parser does not recurse) and then overflows the stack of whatever walks it next.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (jsonNestsDeeperThan(body as string)) done(jsonTooDeepError('the request body'), undefined)
    else parse(req, body as string, done)
  })
}
