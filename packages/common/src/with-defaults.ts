/**
 * `options` with `defaults` filled in where an option is missing or `undefined` (a daemon's
 * options are resolved once, at its constructor, from its one table of defaults).
 */
export function withDefaults<D extends object, O extends Partial<D>>(defaults: D, options: O): O & D {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))
  return { ...defaults, ...given } as O & D
}
