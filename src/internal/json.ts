/**
 * JSON and text read from somewhere else: how deeply it nests, found without parsing it; a server's
 * text made safe to show.
 *
 * @internal
 */
import * as Option from "effect/Option"

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

/**
 * How deeply a response's JSON may nest. A token response is flat, metadata two or three levels deep;
 * a document nested deeper is refused before it is parsed: decoding and formatting a value 100,000
 * levels deep overflows the stack (a `RangeError` defect instead of a typed error).
 *
 * @internal
 */
export const maxJsonDepth = 32

/**
 * The JSON value of a text, or `None` when it is not JSON or nests deeper than `maxJsonDepth`.
 *
 * @internal
 */
export const parseJson = (text: string): Option.Option<unknown> => {
  if (nestsDeeperThan(text, maxJsonDepth)) return Option.none()
  try {
    return Option.some(JSON.parse(text))
  } catch {
    return Option.none()
  }
}

/** The longest server-supplied text (an `error_description`, a content type) an error keeps. */
const maxServerText = 500

/**
 * A text the server chose (an `error_description`, a content type), made safe to show: control
 * characters (C0, DEL, C1), line and paragraph separators and bidirectional overrides are escaped
 * (`\x1b`, `\u202e`), so that a log line or a terminal shows what was sent instead of obeying it; at
 * most 500 characters.
 *
 * @internal
 */
export const serverText = (text: string): string => {
  const cut = text.length > maxServerText ? `${text.slice(0, maxServerText)}...` : text

  return cut.replace(
    /[\x00-\x1F\x7F-\x9F\u061C\u2028\u2029\u200E\u200F\u202A-\u202E\u2066-\u2069]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    (c) => {
      const code = c.charCodeAt(0)
      return code <= 0xFF ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`
    }
  )
}
