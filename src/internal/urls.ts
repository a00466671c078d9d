/**
 * URLs as tokenlayer shows them and keys them: never with a user, a password, a query or a fragment,
 * which may hold secrets.
 *
 * @internal
 */
import { createHash } from "node:crypto"

/**
 * A URL as errors and logs show it: without user, password, query or fragment, which may hold secrets.
 *
 * @internal
 */
export const displayUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    parsed.username = ""
    parsed.password = ""
    parsed.search = ""
    parsed.hash = ""
    return parsed.toString()
  } catch {
    return "(invalid URL)"
  }
}

/**
 * Whether a URL has a user, a password, a query or a fragment (or is not a URL at all).
 *
 * @internal
 */
export const hasSecretParts = (url: string): boolean => {
  try {
    const parsed = new URL(url)
    return parsed.username !== "" || parsed.password !== "" || parsed.search !== "" || parsed.hash !== "" ||
      url.includes("?") || url.includes("#")
  } catch {
    return url !== ""
  }
}

/**
 * Whether a text is an absolute `http:` or `https:` URL.
 *
 * @internal
 */
export const isHttpUrl = (value: string): boolean => {
  try {
    const url = new URL(value)
    return url.protocol === "https:" || url.protocol === "http:"
  } catch {
    return false
  }
}

/**
 * The origin of a URL (`https://host:port`), or words for one that is not a URL.
 *
 * @internal
 */
export const originOf = (url: string): string => {
  try {
    return new URL(url).origin
  } catch {
    return "an invalid URL"
  }
}

/**
 * What names a token URL in a grant's key: `url=<the URL>` as written, unless it carries something that
 * may be a secret (a user, a password, a query, a fragment). Then the key shows the URL without them
 * (as errors do) and adds `url_hash=<16 hex digits of the SHA-256 of the URL as written>`, so that keys,
 * the log lines, file names and Redis keys made of them never show the secret, and two URLs that differ
 * only there still name different tokens.
 *
 * @internal
 */
export const urlKeyParts = (
  name: string,
  url: string
): ReadonlyArray<readonly [string, string]> => {
  if (!hasSecretParts(url)) return [[name, url]]
  const shown = displayUrl(url)
  const hash = createHash("sha256").update(url, "utf8").digest("hex").slice(0, 16)
  return [[name, shown], [`${name}_hash`, hash]]
}
