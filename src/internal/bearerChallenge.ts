/**
 * The `insufficient_scope` challenge of a `WWW-Authenticate` header (RFC 6750 §3, §3.1), read with a
 * bounded parser: a header past 8 KiB, a malformed quoted string or a scope that is not RFC 6749 §3.3
 * scope-tokens is ignored (no step-up), never a defect.
 *
 * @internal
 */

const maxHeader = 8192
const maxScopes = 32
/** RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`. */
const scopeToken = /^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/

/** The auth-params of the first Bearer challenge (names lower-cased), or `undefined` when malformed. */
const bearerParams = (header: string): Map<string, string> | undefined => {
  const start = /(?:^|,)\s*Bearer(?:\s+|$)/i.exec(header)
  if (start === null) return undefined
  const params = new Map<string, string>()
  let i = start.index + start[0].length
  while (i < header.length) {
    while (i < header.length && (header[i] === " " || header[i] === "\t" || header[i] === ",")) i++
    const name = /^[A-Za-z0-9_.-]+/.exec(header.slice(i, i + 64))
    if (name === null) return params
    i += name[0].length
    while (header[i] === " ") i++
    // a new challenge (`, Basic realm=...`): the Bearer one ends here
    if (header[i] !== "=") return params
    i++
    while (header[i] === " ") i++
    let value = ""
    if (header[i] === "\"") {
      i++
      let closed = false
      while (i < header.length) {
        const c = header[i]!
        if (c === "\\") {
          if (i + 1 >= header.length) return undefined
          value += header[i + 1]
          i += 2
        } else if (c === "\"") {
          closed = true
          i++
          break
        } else {
          value += c
          i++
        }
      }
      if (!closed) return undefined
    } else {
      const token = /^[^\s,"]*/.exec(header.slice(i))![0]
      value = token
      i += token.length
    }
    const key = name[0].toLowerCase()
    if (!params.has(key)) params.set(key, value)
  }
  return params
}

/**
 * The scope an `insufficient_scope` Bearer challenge asks for, checked: `undefined` when the header is
 * not one, too big, malformed, or its scope is missing or not scope-tokens.
 *
 * @internal
 */
export const insufficientScope = (header: string | undefined): ReadonlyArray<string> | undefined => {
  if (header === undefined || header.length > maxHeader) return undefined
  const params = bearerParams(header)
  if (params === undefined || params.get("error") !== "insufficient_scope") return undefined
  const scopes = (params.get("scope") ?? "").split(" ").filter((s) => s !== "")
  if (scopes.length === 0 || scopes.length > maxScopes || !scopes.every((s) => scopeToken.test(s))) return undefined
  return scopes
}
