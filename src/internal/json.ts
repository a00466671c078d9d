/**
 * JSON read from somewhere else: how deeply it nests, found without parsing it.
 *
 * @internal
 */

/**
 * Whether a JSON text nests arrays and objects deeper than `max`, in one linear pass that skips strings:
 * what `JSON.parse` would build, without building it. Decoding or formatting a value nested 100,000
 * levels deep (it fits in 1 MiB) overflows the stack, so such a text is refused before it is parsed.
 *
 * @internal
 */
export const nestsDeeperThan = (text: string, max: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5C) i++ // a backslash: the next character is escaped
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5B || c === 0x7B) {
      if (++depth > max) return true
    } else if (c === 0x5D || c === 0x7D) {
      depth--
    }
  }
  return false
}
