/**
 * Grant keys: what names a grant's tokens in caches and stores.
 *
 * @internal
 */

/**
 * Percent-encodes the characters that give a key its structure (`%`, `;`, `=`, space), so that values
 * containing them (a scope token may contain `;` and `=`) cannot make two different grants share a key.
 */
const keyValue = (value: string): string =>
  value.replace(/[%;= ]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)

/**
 * Builds the cache key of a grant from what distinguishes its tokens: `grant=<type>;name=value;...`,
 * lists sorted and space-separated, the structural characters of each value percent-encoded so that
 * different grants never share a key. Never pass a secret.
 *
 * @internal
 */
export const makeKey = (
  grantType: string,
  parts: ReadonlyArray<readonly [string, string | ReadonlyArray<string> | undefined]>
): string => {
  const fields = [`grant=${keyValue(grantType)}`]
  for (const [name, value] of parts) {
    if (value === undefined) continue
    const text = typeof value === "string"
      ? keyValue(value)
      : value.filter((v) => v !== "").map(keyValue).sort().join(" ")
    if (text !== "") fields.push(`${name}=${text}`)
  }
  return fields.join(";")
}
