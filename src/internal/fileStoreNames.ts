/**
 * The names of the file store's files, computed from the key alone.
 *
 * `<slug>-<hash>`: the slug shows the values of a grant key, the hash (the first 16 hex digits of the
 * key's SHA-256) tells apart keys with the same slug. Every step is linear in the key's length: a key
 * is whatever a program was configured with (a client id of 60,000 characters, a megabyte), and a
 * pattern that backtracks over it would block the event loop for minutes.
 *
 * @internal
 */
import * as crypto from "node:crypto"
import * as os from "node:os"

const slugLength = 64

/**
 * `(^|;)name=`, where a name is letters and `_`: the names of a grant key's fields. Linear: only `;`
 * (or the start) begins a match, and the name after it is read once.
 */
const fieldNames = /(^|;)[A-Za-z_]+=/g

const isLetter = (code: number): boolean => (code >= 65 && code <= 90) || (code >= 97 && code <= 122)

/** `[A-Za-z0-9+.-]`: the characters of a URL scheme. */
const isSchemeCharacter = (code: number): boolean =>
  isLetter(code) || (code >= 48 && code <= 57) || code === 43 || code === 45 || code === 46

/**
 * The key without URL schemes: from each run of scheme characters followed by `://`, what comes from
 * its first letter on, and the `://` (a scheme starts with a letter). The same as
 * `replace(/[A-Za-z][A-Za-z0-9+.-]*:\/\//g, "")`, which named the token files of earlier versions, in
 * one pass: that pattern is quadratic on a long run of letters without `://` (it is tried at every
 * letter, and each try reads the rest of the run), 5 seconds for 60,000 characters.
 */
const withoutSchemes = (text: string): string => {
  let out = ""
  let kept = 0 // where the text not yet copied to `out` starts
  let i = 0
  while (i < text.length) {
    if (!isSchemeCharacter(text.charCodeAt(i))) {
      i++
      continue
    }
    // a whole run: a scheme can only end where the run does (`:` is not a scheme character)
    let letter = -1
    while (i < text.length && isSchemeCharacter(text.charCodeAt(i))) {
      if (letter === -1 && isLetter(text.charCodeAt(i))) letter = i
      i++
    }
    if (letter !== -1 && text.startsWith("://", i)) {
      out += text.slice(kept, letter)
      i += 3
      kept = i
    }
  }
  return out + text.slice(kept)
}

/**
 * `<slug>-<hash>`: the name of a key's files, without extension. The slug shows the values of a grant
 * key (`grant=client_credentials;token_url=https://auth.example.com/token;client_id=app` gives
 * `client_credentials_auth.example.com_token_app`); the hash tells apart keys with the same slug.
 */
export const baseName = (key: string): string => {
  const hash = crypto.createHash("sha256").update(key, "utf8").digest("hex").slice(0, 16)
  const slug = withoutSchemes(key.replace(fieldNames, "$1"))
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .slice(0, slugLength)
    .replace(/^[._-]+|[._-]+$/g, "")
  return `${slug === "" ? "token" : slug}-${hash}`
}

/** The name of the token file of `key`. */
export const fileName = (key: string): string => `${baseName(key)}.json`

/** The name of the lock file of `key`. */
export const lockName = (key: string): string => `${baseName(key)}.lock`

/** A random nonce: 16 hex digits. */
export const nonce = (): string => crypto.randomBytes(8).toString("hex")

/** This host, as scratch file names show it. */
const hostTag = crypto.createHash("sha256").update(os.hostname(), "utf8").digest("hex").slice(0, 8)

/** `.<base>.<host>.`: how the scratch files of a key written on this host start (the pid comes next). */
export const scratchPrefix = (key: string): string => `.${baseName(key)}.${hostTag}.`

/** A new scratch file name for `key`, of this process. */
export const scratchName = (key: string, kind: "tmp" | "new" | "stale"): string =>
  `${scratchPrefix(key)}${process.pid}.${nonce()}.${kind}`
