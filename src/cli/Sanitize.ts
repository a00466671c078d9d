/**
 * What the `tokenlayer` command does with text it did not write (a server's answer, a config file, the
 * environment, the command line) before it shows it, and how much of it it takes.
 *
 * - Shown text is escaped, never dropped: C0 controls (`\x0a`, `\x0d`, `\x1b`...), DEL (`\x7f`), C1
 *   controls (`\x9b`, a one-byte CSI on some terminals), the Unicode bidirectional controls (`\u202e`,
 *   `\u2066`...), the line and paragraph separators and lone surrogates are written as escapes, so that
 *   no server can move the cursor, retitle the terminal, hide text, start a new line or reverse what
 *   follows, and the user still sees that it tried.
 * - What goes on stdout to be used as it is (a token, a header) is checked, not escaped: an escaped
 *   token would be another token, so the command refuses to print it instead.
 * - Values from flags, `TOKENLAYER_*` variables and profiles are bounded (`maxValue`, `maxPath`...): a
 *   command line that carries a megabyte is a mistake or an attack, and is refused at once by name.
 *
 * @since 0.1.0
 */

/**
 * The longest client id, URL, scope, audience, key id, issuer or subject (4 KiB): far more than any
 * real one, small enough that every later step (the grant key, the file name, the request) is cheap.
 *
 * @since 0.1.0
 * @category bounds
 */
export const maxValue = 4096

/**
 * The longest file path (the config, the state directory, the secret file): Linux's `PATH_MAX`.
 *
 * @since 0.1.0
 * @category bounds
 */
export const maxPath = 4096

/**
 * The longest environment variable name `--secret-env` may give.
 *
 * @since 0.1.0
 * @category bounds
 */
export const maxEnvName = 256

/**
 * The longest duration text (`--buffer`).
 *
 * @since 0.1.0
 * @category bounds
 */
export const maxDuration = 64

/**
 * The largest config file read (1 MiB): a real one is a few kilobytes.
 *
 * @since 0.1.0
 * @category bounds
 */
export const maxConfigBytes = 1024 * 1024

/**
 * The deepest nesting of arrays and objects in a config file: a real one has 3 levels.
 *
 * @since 0.1.0
 * @category bounds
 */
export const maxConfigDepth = 32

// -----------------------------------------------------------------------------
// escaping
// -----------------------------------------------------------------------------

/**
 * The characters that are escaped: C0, DEL, C1, the bidirectional controls (ALM, LRM, RLM, the
 * embeddings, overrides and isolates), the line and paragraph separators, and lone surrogates.
 */
const unsafe =
  /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

const unsafeGlobal = new RegExp(unsafe.source, "g")

/**
 * What `JSON.stringify` leaves in its strings of those (it escapes C0 and lone surrogates; the only C0
 * left, its line breaks, are outside strings).
 */
const unsafeInJson = /[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g

/** What `oneLine` cuts between: an escape, or one character (a surrogate pair is one). */
const units = /\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|[\s\S]/gu

/** `\xNN` up to U+00FF (C0, DEL, C1), `\uNNNN` above: the notation of the library's own `serverText`. */
const escapeOne = (char: string): string => {
  const code = char.charCodeAt(0)
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`
}

/**
 * Whether `text` holds a character that `escape` would escape.
 *
 * @since 0.1.0
 * @category escaping
 */
export const hasUnsafe = (text: string): boolean => unsafe.test(text)

/**
 * `text` safe for a terminal: every control character (C0, DEL, C1), bidirectional control, line or
 * paragraph separator and lone surrogate written as an escape (`\x0a`, `\x1b`, `\x9b`, `\u202e`); all
 * else as it is. Escaping escaped text changes nothing (a backslash is not escaped).
 *
 * @since 0.1.0
 * @category escaping
 */
export const escape = (text: string): string => text.replace(unsafeGlobal, escapeOne)

/**
 * Text from outside as one safe line of at most `max` characters (then `…`): escaped as `escape`
 * does, runs of spaces made one, trimmed. Only the start of a long text is looked at.
 *
 * @since 0.1.0
 * @category escaping
 */
export const oneLine = (text: string, max = 300): string => {
  // each character escapes to at most 6: this much is enough to fill `max`
  const cut = max * 6 + 2
  const head = text.length > cut ? text.slice(0, cut) : text
  const clean = escape(head).replace(/ {2,}/g, " ").trim()
  if (clean.length <= max && head.length === text.length) return clean
  // cut between characters: not in an escape (`\x1b`, `\u202e`), not in a surrogate pair
  let kept = ""
  for (const [unit] of clean.matchAll(units)) {
    if (kept.length + unit.length > max - 1) break
    kept += unit
  }
  return `${kept}…`
}

/**
 * Each line of `text` escaped (the line breaks kept): what any stdout output of the command goes through.
 *
 * @since 0.1.0
 * @category escaping
 */
export const escapeLines = (text: string): string => text.split("\n").map(escape).join("\n")

/**
 * `JSON.stringify(value, null, 2)` with the characters `escape` escapes written as `\u` escapes: the
 * same JSON value, safe for a terminal (`JSON.stringify` escapes C0 but leaves DEL, C1 and the
 * bidirectional controls as they are).
 *
 * @since 0.1.0
 * @category escaping
 */
export const json = (value: unknown): string =>
  JSON.stringify(value, null, 2).replace(
    unsafeInJson,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`
  )

// -----------------------------------------------------------------------------
// what may be printed as it is
// -----------------------------------------------------------------------------

/**
 * Whether `text` is an RFC 9110 token (`auth-scheme` is one): what a `token_type` must be to go into an
 * `Authorization` header.
 *
 * @since 0.1.0
 * @category validation
 */
export const isHttpToken = (text: string): boolean => /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/.test(text)

/**
 * Whether `text` is non-empty visible ASCII: what an access token must be to be printed as it is.
 *
 * @since 0.1.0
 * @category validation
 */
export const isVisibleAscii = (text: string): boolean => /^[\x21-\x7e]+$/.test(text)

// -----------------------------------------------------------------------------
// names
// -----------------------------------------------------------------------------

/**
 * Whether `name` can be an environment variable's name (POSIX: letters, digits and `_`, not starting
 * with a digit), at most `maxEnvName` characters.
 *
 * @since 0.1.0
 * @category validation
 */
export const isEnvName = (name: string): boolean => name.length <= maxEnvName && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)

/**
 * What to say of a `--secret-env` (or `TOKENLAYER_SECRET_ENV`) that is not a variable's name: it may be
 * the secret itself, so it is not repeated.
 *
 * @since 0.1.0
 * @category names
 */
export const notAnEnvName = (origin: string): string =>
  `${origin} expects the name of an environment variable (letters, digits and _, not starting with a digit), ` +
  `not the secret itself (the value given is not shown): export the secret in a variable and give its name`

/**
 * Whether `text` holds more than `max` characters.
 *
 * @since 0.1.0
 * @category bounds
 */
export const tooLong = (text: string, max: number): boolean => text.length > max

/**
 * `label is too long (N characters; at most max)`: never the value.
 *
 * @since 0.1.0
 * @category bounds
 */
export const tooLongText = (label: string, text: string, max: number): string =>
  `${label} is too long (${text.length} characters; at most ${max})`

/**
 * Whether the JSON text nests arrays and objects no deeper than `max` (strings are skipped): checked
 * before it is parsed, so that deep nesting is a message, not a stack overflow.
 *
 * @since 0.1.0
 * @category bounds
 */
export const nestsAtMost = (text: string, max: number): boolean => {
  let depth = 0
  // a string is one match (its escapes in it), so only the brackets outside strings count
  for (const [part] of text.matchAll(/"(?:[^"\\]|\\[\s\S])*"?|[[\]{}]/g)) {
    if (part === "[" || part === "{") {
      if (++depth > max) return false
    } else if (part === "]" || part === "}") {
      depth--
    }
  }
  return true
}

// -----------------------------------------------------------------------------
// the command line
// -----------------------------------------------------------------------------

/**
 * The parser's message with the value of every `--option=value` of `argv` left out: an option that does
 * not exist (`--client-secret=...`, people type it) is named by the part before `=`, and a value given
 * to an option that takes none (`--secret-stdin=...`, which the parser reports as an argument of its
 * own) is not repeated. The parser's own colours are removed; the rest is `oneLine`.
 *
 * @since 0.1.0
 * @category command line
 */
export const parserMessage = (message: string, argv: ReadonlyArray<string>, max = 300): string => {
  // @effect/cli renders its messages with ANSI styles, over lines
  const lines = message.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((line) => line.trim())
  let text = lines.filter((line) => line !== "").join(" ")
  const values: Array<readonly [string, string]> = []
  for (const arg of argv) {
    const match = /^(-{1,2}[^=\s]+)=([\s\S]+)$/.exec(arg)
    if (match !== null) values.push([match[1]!, match[2]!])
  }
  for (const [name, value] of values) {
    const shown = oneLine(name, 60)
    text = text.split(`'${name}=${value}'`).join(`'${shown}=…' (its value is not shown)`)
    text = text.split(`'${value}'`).join(`the value given to ${shown} (not shown)`)
  }
  return oneLine(text, max)
}
