/**
 * Values as people write them on a command line: durations (`30s`, `5m`, `1h30m`) and endpoint URLs.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import { displayUrl } from "../Grant.js"
import * as Errors from "./Errors.js"

// -----------------------------------------------------------------------------
// durations
// -----------------------------------------------------------------------------

const units: ReadonlyArray<readonly [RegExp, number]> = [
  [/^(ms|millis|milliseconds?)$/, 1],
  [/^(s|sec|secs|seconds?)$/, 1000],
  [/^(m|min|mins|minutes?)$/, 60_000],
  [/^(h|hr|hrs|hours?)$/, 3_600_000],
  [/^(d|days?)$/, 86_400_000]
]

/**
 * A duration as people write it: `300` (seconds), `30s`, `5m`, `1h30m`, `5 minutes`, `-10m` (with
 * `allowNegative`). `None` when it is not one.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseDuration = (text: string, allowNegative = false): Option.Option<number> => {
  let rest = text.trim().toLowerCase()
  let sign = 1
  if (allowNegative && rest.startsWith("-")) {
    sign = -1
    rest = rest.slice(1).trim()
  }
  if (rest === "") return Option.none()
  if (/^\d+(\.\d+)?$/.test(rest)) return Option.some(sign * Number(rest) * 1000)
  let total = 0
  const part = /^(\d+(?:\.\d+)?)\s*([a-z]+)\s*/
  while (rest !== "") {
    const match = part.exec(rest)
    if (match === null) return Option.none()
    const factor = units.find(([unit]) => unit.test(match[2]!))
    if (factor === undefined) return Option.none()
    total += Number(match[1]) * factor[1]
    rest = rest.slice(match[0].length)
  }
  return Number.isFinite(total) ? Option.some(sign * total) : Option.none()
}

// -----------------------------------------------------------------------------
// resolution
// -----------------------------------------------------------------------------

/**
 * What is wrong with an endpoint URL, or `undefined` when it is an http(s) URL without credentials. A
 * password in a URL would be kept in the config file and shown by `profile list`, so the text never
 * shows it.
 *
 * @since 0.1.0
 * @category validation
 */
export const urlProblem = (label: string, value: string): string | undefined => {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    // a mistyped URL may still hold a password before its "@": not repeated then
    const shown = value.includes("@") ? "(not shown: it has an @)" : Errors.oneLine(value, 100)
    return `the ${label} ${shown} is not an http(s) URL`
  }
  if (url.username !== "" || url.password !== "") {
    return `the ${label} ${
      Errors.oneLine(displayUrl(value), 100)
    } holds credentials: name the secret with --secret-env, --secret-file or --secret-stdin instead`
  }
  return url.protocol === "https:" || url.protocol === "http:"
    ? undefined
    : `the ${label} ${Errors.oneLine(value, 100)} is not an http(s) URL`
}
