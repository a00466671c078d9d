/**
 * The device authorization grant (RFC 8628) in the embedded `AuthServer`:
 *
 * - `POST /device_authorization` (§3.1, §3.2): a device code, a user code (`BCDF-GHJK`: RFC 8628 §6.1's
 *   20 consonants), `verification_uri` (`/device`), `verification_uri_complete`, `expires_in`, `interval`;
 * - the token endpoint's `urn:ietf:params:oauth:grant-type:device_code` (§3.4, §3.5):
 *   `authorization_pending` until the user decides, `slow_down` when polled sooner than the interval after
 *   the previous poll (or the authorization), `access_denied`, `expired_token`, then a token (with a refresh token
 *   unless the client is registered with `refreshTokens: "none"`);
 * - `GET /device` (a page where a person enters the code and approves or denies it), `POST /device`;
 * - `approve` / `deny` / `pending` for tests.
 *
 * Time is the Clock of the server (a TestClock in `it.effect` tests).
 *
 * @internal
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as crypto from "node:crypto"
import * as OAuth from "./oauthServer.js"
import type * as RefreshServer from "./refreshServer.js"

/**
 * The `grant_type` of the device access token request.
 *
 * @internal
 */
export const grantType = "urn:ietf:params:oauth:grant-type:device_code"

/** RFC 8628 §6.1: base-20, no vowels (no words), no look-alike characters. */
const alphabet = "BCDFGHJKLMNPQRSTVWXZ"

const newUserCode = (): string => {
  const bytes = crypto.randomBytes(8)
  const chars = Array.from(bytes, (b) => alphabet[b % alphabet.length]!)
  return `${chars.slice(0, 4).join("")}-${chars.slice(4).join("")}`
}

/**
 * A user code as a person may type it (lower case, without the dash, with spaces): `BCDF-GHJK`.
 *
 * @internal
 */
export const normalizeUserCode = (code: string): string => {
  const chars = code.toUpperCase().replace(/[^A-Z]/g, "")
  return chars.length === 8 ? `${chars.slice(0, 4)}-${chars.slice(4)}` : chars
}

type Status = "pending" | "approved" | "denied" | "used"

interface Device {
  readonly deviceCode: string
  readonly userCode: string
  readonly clientId: string
  readonly scope: ReadonlyArray<string>
  readonly expiresAt: number
  /** What the server expects between two polls, in ms. */
  readonly interval: number
  lastPollAt: number
  status: Status
}

/**
 * @internal
 */
export interface Options {
  /** `${url}/device` */
  readonly verificationUrl: string
  readonly interval: Duration.Duration
  readonly lifetime: Duration.Duration
  /** Whether the device authorization answer says `interval` (else clients use their 5 s default). */
  readonly announceInterval: boolean
  readonly lookup: (clientId: string) => OAuth.Client | undefined
  readonly refresh: RefreshServer.RefreshTokens
}

/**
 * The device flow state of one server.
 *
 * @internal
 */
export interface Devices {
  /** The device authorization endpoint's answer (RFC 8628 §3.2), or its error. */
  readonly authorize: (request: OAuth.EndpointRequest) => Effect.Effect<Record<string, unknown>, OAuth.OAuthError>
  /** The device code grant. */
  readonly handler: OAuth.GrantHandler
  /** Approves (or denies) a pending, unexpired user code; `false` when there is none. */
  readonly decide: (userCode: string, decision: "approved" | "denied") => Effect.Effect<boolean>
  /** The user codes waiting for a decision, oldest first (expired ones left out). */
  readonly pending: Effect.Effect<ReadonlyArray<string>>
  /** `GET /device` and `POST /device`: the page where a person approves a code. */
  readonly page: (
    request: HttpServerRequest.HttpServerRequest,
    form: URLSearchParams
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse>
}

const deviceError = (error: string, description: string): OAuth.OAuthError =>
  new OAuth.OAuthError({ status: 400, error, description })

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const html = (title: string, body: string, status = 200) =>
  HttpServerResponse.text(
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>\n`,
    { status, contentType: "text/html; charset=utf-8", headers: { "cache-control": "no-store" } }
  )

/** @internal */
export const make = (options: Options): Devices => {
  const devices: Array<Device> = []
  const byDeviceCode = new Map<string, Device>()
  const byUserCode = new Map<string, Device>()
  const intervalMillis = Duration.toMillis(options.interval)
  const lifetimeSeconds = Math.max(1, Math.floor(Duration.toSeconds(options.lifetime)))

  const authorize = (request: OAuth.EndpointRequest) =>
    Effect.gen(function*() {
      const client = yield* OAuth.authenticateClient(request, options.lookup)
      const scope = yield* Either.flatMap(
        OAuth.param(request.form, "scope"),
        (s) => OAuth.grantedScope(client, s)
      )
      const now = yield* Clock.currentTimeMillis
      let userCode = newUserCode()
      while (byUserCode.has(userCode)) userCode = newUserCode()
      const device: Device = {
        deviceCode: OAuth.randomToken(),
        userCode,
        clientId: client.id,
        scope,
        expiresAt: now + lifetimeSeconds * 1000,
        interval: intervalMillis,
        lastPollAt: now,
        status: "pending"
      }
      devices.push(device)
      byDeviceCode.set(device.deviceCode, device)
      byUserCode.set(device.userCode, device)
      return {
        device_code: device.deviceCode,
        user_code: device.userCode,
        verification_uri: options.verificationUrl,
        verification_uri_complete: `${options.verificationUrl}?user_code=${encodeURIComponent(device.userCode)}`,
        expires_in: lifetimeSeconds,
        ...(options.announceInterval ? { interval: Math.max(1, Math.round(intervalMillis / 1000)) } : {})
      }
    })

  const handler: OAuth.GrantHandler = {
    grantType,
    handle: (context) =>
      Effect.gen(function*() {
        const client = yield* context.authenticateClient
        const code = yield* OAuth.param(context.request.form, "device_code")
        if (code === undefined || code === "") return yield* Effect.fail(OAuth.invalidRequest("missing device_code"))
        const device = byDeviceCode.get(code)
        if (device === undefined) return yield* Effect.fail(deviceError("invalid_grant", "unknown device code"))
        if (device.clientId !== client.id) {
          return yield* Effect.fail(deviceError("invalid_grant", "the device code was issued to another client"))
        }
        if (device.status === "used") {
          return yield* Effect.fail(deviceError("invalid_grant", "the device code was already used"))
        }
        const now = yield* Clock.currentTimeMillis
        if (now >= device.expiresAt) return yield* Effect.fail(deviceError("expired_token", "the device code expired"))
        if (device.status === "denied") {
          return yield* Effect.fail(deviceError("access_denied", "the user denied the request"))
        }
        if (device.status === "pending") {
          const early = now - device.lastPollAt < device.interval
          device.lastPollAt = now
          if (early) {
            return yield* Effect.fail(
              deviceError("slow_down", `polled too often: wait ${device.interval / 1000} s between polls`)
            )
          }
          return yield* Effect.fail(deviceError("authorization_pending", "waiting for the user"))
        }
        device.status = "used"
        const token = yield* context.issue({ client, grantType, scope: device.scope })
        if (options.refresh.mode(client.id) === "none") return { token }
        const refreshToken = yield* options.refresh.issue(client.id, device.scope, token)
        return { token, extra: { refresh_token: refreshToken } }
      })
  }

  const decide = (userCode: string, decision: "approved" | "denied") =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const device = byUserCode.get(normalizeUserCode(userCode))
      if (device === undefined || device.status !== "pending" || now >= device.expiresAt) return false
      device.status = decision
      return true
    })

  const pending = Effect.map(
    Clock.currentTimeMillis,
    (now) => devices.filter((d) => d.status === "pending" && now < d.expiresAt).map((d) => d.userCode)
  )

  const page = (request: HttpServerRequest.HttpServerRequest, form: URLSearchParams) =>
    Effect.gen(function*() {
      if (request.method === "POST") {
        const code = form.get("user_code") ?? ""
        const action = form.get("action") === "deny" ? "denied" : "approved"
        const done = yield* decide(code, action)
        return done
          ? html(
            "Done",
            `<h1>${action === "approved" ? "Approved" : "Denied"}</h1><p>You can close this window.</p>`
          )
          : html("Unknown code", "<h1>Unknown or expired code</h1><p><a href=\"device\">Try again</a></p>", 400)
      }
      const code = new URL(request.url, "http://localhost").searchParams.get("user_code") ?? ""
      return html(
        "Device login",
        "<h1>Connect a device</h1><form method=\"post\">" +
          `<label>Code <input name="user_code" value="${escapeHtml(normalizeUserCode(code))}"></label> ` +
          "<button name=\"action\" value=\"approve\">Approve</button> " +
          "<button name=\"action\" value=\"deny\">Deny</button></form>"
      )
    })

  return { authorize, handler, decide, pending, page }
}
