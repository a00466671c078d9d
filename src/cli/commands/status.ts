/**
 * `tokenlayer status`: the profile's settings and its cached token (grant, scope, times, remaining
 * life), never the token itself; `--json` for scripts.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as path from "node:path"
import * as TokenStore from "../../TokenStore.js"
import type * as Args from "../Args.js"
import * as Errors from "../Errors.js"
import * as Grants from "../Grants.js"
import * as Output from "../Output.js"
import type * as Profiles from "../Profiles.js"
import * as Sanitize from "../Sanitize.js"
import * as Settings from "../Settings.js"
import { fileStore, refreshPolicy, storeFailure } from "../Tokens.js"

/**
 * What `status --json` prints.
 *
 * @since 0.1.0
 * @category models
 */
export interface StatusReport {
  readonly profile: string
  readonly grant: Profiles.GrantName
  readonly issuer: string | null
  readonly tokenUrl: string | null
  readonly clientId: string | null
  readonly scope: string | null
  readonly audience: string | null
  /** `valid`, `due` (valid, renewed by the next `token`), `expired`, or `none` (nothing cached). */
  readonly state: "valid" | "due" | "expired" | "none"
  readonly tokenType: string | null
  readonly issuedAt: string | null
  readonly expiresAt: string | null
  readonly dueAt: string | null
  readonly lifetimeSeconds: number | null
  readonly remainingSeconds: number | null
  readonly refreshToken: boolean
  readonly file: string
}

const iso = (millis: number): string => DateTime.formatIso(DateTime.unsafeMake(millis))

const statusReport = (settings: Settings.Settings) =>
  Effect.gen(function*() {
    const key = Grants.keyOf(settings)
    const store = yield* fileStore(settings)
    const file = path.join(settings.stateDir, TokenStore.fileName(key))
    const loaded = yield* store.load(key).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotCached", () => Effect.succeedNone),
      Effect.catchTag("Corrupted", (error) =>
        Effect.zipRight(
          Output.err(`warning: ${Errors.oneLine(error.message)}; the next tokenlayer token replaces it`),
          Effect.succeedNone
        )),
      Effect.mapError(storeFailure)
    )
    const now = yield* Clock.currentTimeMillis
    const base = {
      profile: settings.profile,
      grant: settings.grant,
      issuer: settings.issuer ?? null,
      tokenUrl: settings.tokenUrl ?? null,
      clientId: settings.clientId ?? settings.assertionIssuer ?? null,
      audience: settings.audience ?? null,
      file
    }
    if (Option.isNone(loaded)) {
      return {
        ...base,
        scope: settings.scope ?? null,
        state: "none",
        tokenType: null,
        issuedAt: null,
        expiresAt: null,
        dueAt: null,
        lifetimeSeconds: null,
        remainingSeconds: null,
        refreshToken: false
      } satisfies StatusReport
    }
    const token = loaded.value
    const policy = refreshPolicy(settings)
    const expiresAt = policy.expiresAt(token).epochMillis
    const dueAt = policy.dueAt(token).epochMillis
    const issuedAt = token.issuedAt.epochMillis
    return {
      ...base,
      scope: token.scope ?? settings.scope ?? null,
      state: now >= expiresAt ? "expired" : now >= dueAt ? "due" : "valid",
      tokenType: token.tokenType,
      issuedAt: iso(issuedAt),
      expiresAt: iso(expiresAt),
      dueAt: iso(dueAt),
      lifetimeSeconds: Math.round((expiresAt - issuedAt) / 1000),
      remainingSeconds: Math.max(0, Math.round((expiresAt - now) / 1000)),
      refreshToken: token.refreshToken !== undefined
    } satisfies StatusReport
  })

const relative = (at: string, now: number): string => {
  const millis = DateTime.unsafeMake(at).epochMillis - now
  return millis >= 0 ? `in ${Output.formatDuration(millis)}` : `${Output.formatDuration(-millis)} ago`
}

const renderStatus = (report: StatusReport, now: number): string => {
  const rows: Array<readonly [string, string]> = [
    ["profile", report.profile],
    ["grant", report.grant],
    ...(report.issuer === null ? [] : [["issuer", report.issuer] as const]),
    ...(report.tokenUrl === null ? [] : [["token url", report.tokenUrl] as const]),
    ...(report.clientId === null ? [] : [["client", report.clientId] as const]),
    ["scope", report.scope ?? "(none)"],
    ...(report.audience === null ? [] : [["audience", report.audience] as const])
  ]
  if (report.state === "none") {
    rows.push(["token", "none cached"])
  } else {
    const lifetime = (report.lifetimeSeconds ?? 0) * 1000
    const remaining = (report.remainingSeconds ?? 0) * 1000
    const state = report.state === "valid"
      ? "valid"
      : report.state === "due"
      ? "valid, due for renewal (the next tokenlayer token renews it)"
      : "expired"
    rows.push(
      ["token", `${state}${report.refreshToken ? ", with a refresh token" : ""}`],
      ["issued", `${report.issuedAt} (${relative(report.issuedAt!, now)})`],
      ["expires", `${report.expiresAt} (${relative(report.expiresAt!, now)})`],
      ["renewal", `${report.dueAt} (${relative(report.dueAt!, now)})`],
      [
        "remaining",
        `${Output.bar(lifetime === 0 ? 0 : remaining / lifetime)} ${
          lifetime === 0 ? 0 : Math.round((remaining / lifetime) * 100)
        }%  ${Output.formatDuration(remaining)} of ${Output.formatDuration(lifetime)}`
      ]
    )
  }
  rows.push(["file", report.file])
  const width = Math.max(...rows.map(([label]) => label.length))
  // each value escaped: a line break in a scope or a URL must not make a row of its own
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${Sanitize.escape(value)}`).join("\n")
}

/**
 * `tokenlayer status`.
 *
 * @since 0.1.0
 * @category commands
 */
export const status = (parsed: Args.Parsed) =>
  Effect.gen(function*() {
    const settings = yield* Settings.resolve(parsed.values)
    const report = yield* statusReport(settings)
    const now = yield* Clock.currentTimeMillis
    yield* Output.out(parsed.values.json === true ? Sanitize.json(report) : renderStatus(report, now))
    if (report.state === "none" || report.state === "expired") {
      return yield* Effect.fail(
        new Errors.CliError({
          kind: "login",
          text: `profile ${settings.profile}: no valid token cached: run tokenlayer ${
            settings.grant === "device_code" ? "login" : "token"
          }${Errors.profileFlag(settings.profile)}`
        })
      )
    }
  })
