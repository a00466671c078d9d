/**
 * The `tokenlayer` command, built with `@effect/cli` on the library itself:
 *
 * - `token`: prints the access token, and nothing else;
 * - `header`: prints `Authorization: Bearer <token>`;
 * - `status`: the cached token's profile, grant, scope, times and remaining lifetime (never the token);
 * - `login`: the device flow (or, for other grants, a new token now), saved in the token store;
 * - `logout`: deletes the cached token and revokes it where the server can (RFC 7009);
 * - `profile add | list | remove`: the profiles of the config file.
 *
 * Tokens live in `TokenStore.layerFile` (one 0600 file per grant in a 0700 directory): a second
 * `tokenlayer token` within the token's life makes no request, and many shells calling at once on a cold
 * cache make one (the store's lock).
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as path from "node:path"
import * as Grant from "../Grant.js"
import * as RefreshPolicy from "../RefreshPolicy.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import * as TokenService from "../TokenService.js"
import * as TokenStore from "../TokenStore.js"
import * as Errors from "./Errors.js"
import * as Output from "./Output.js"
import * as Profiles from "./Profiles.js"
import * as Qr from "./Qr.js"
import * as Revocation from "./Revocation.js"
import * as Sanitize from "./Sanitize.js"
import * as Settings from "./Settings.js"

/**
 * The version the command reports (`tokenlayer --version`).
 *
 * @since 0.1.0
 * @category constants
 */
export const version = "0.1.0"

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

const text = (name: string, description: string) =>
  Options.text(name).pipe(Options.withDescription(description), Options.optional)

/** The settings a profile can hold, as flags. */
const profileOptions = {
  grant: Options.choice("grant", Profiles.GrantName.literals).pipe(
    Options.withDescription("the grant (default client_credentials) [TOKENLAYER_GRANT]"),
    Options.optional
  ),
  issuer: text("issuer", "the issuer: its metadata names the endpoints [TOKENLAYER_ISSUER]"),
  tokenUrl: text("token-url", "the token endpoint [TOKENLAYER_TOKEN_URL]"),
  deviceAuthorizationUrl: text(
    "device-authorization-url",
    "the device authorization endpoint (device_code without an issuer) [TOKENLAYER_DEVICE_AUTHORIZATION_URL]"
  ),
  revocationUrl: text("revocation-url", "the revocation endpoint (RFC 7009) [TOKENLAYER_REVOCATION_URL]"),
  clientId: text("client-id", "the client id [TOKENLAYER_CLIENT_ID]"),
  clientAuth: Options.choice("client-auth", Profiles.ClientAuthName.literals).pipe(
    Options.withDescription(
      "client authentication (default client_secret_basic; none for a public device_code client) [TOKENLAYER_CLIENT_AUTH]"
    ),
    Options.optional
  ),
  scope: text("scope", "space-separated scopes [TOKENLAYER_SCOPE]"),
  audience: text("audience", "the audience (Auth0, Okta) [TOKENLAYER_AUDIENCE]"),
  buffer: text("buffer", "renew when less than this is left: 30s, 5m, 1h [TOKENLAYER_BUFFER]"),
  secretEnv: text("secret-env", "the environment variable that holds the secret [TOKENLAYER_SECRET_ENV]"),
  secretFile: text("secret-file", "a 0600 file that holds the secret [TOKENLAYER_SECRET_FILE]"),
  keyId: text("key-id", "jwt_bearer: the kid of the assertions [TOKENLAYER_KEY_ID]"),
  assertionIssuer: text("assertion-issuer", "jwt_bearer: the iss of the assertions [TOKENLAYER_ASSERTION_ISSUER]"),
  subject: text("subject", "jwt_bearer: the sub of the assertions [TOKENLAYER_SUBJECT]"),
  retries: Options.integer("retries").pipe(
    Options.withDescription("retries of a token request that failed transiently (default 2) [TOKENLAYER_RETRIES]"),
    Options.optional
  )
}

const configOption = text("config", "the config file [TOKENLAYER_CONFIG]")
const secretStdinOption = Options.boolean("secret-stdin").pipe(
  Options.withDescription("read the secret from standard input")
)
const verboseOption = Options.boolean("verbose").pipe(
  Options.withAlias("v"),
  Options.withDescription("trace the requests on stderr (never a secret or a token)")
)
const jsonOption = Options.boolean("json").pipe(Options.withDescription("print JSON"))

/** Every flag of the commands that talk to a server. */
const settingsOptions = {
  profile: Options.text("profile").pipe(
    Options.withAlias("p"),
    Options.withDescription("the profile [TOKENLAYER_PROFILE]"),
    Options.optional
  ),
  config: configOption,
  stateDir: text("state-dir", "the directory of the token files [TOKENLAYER_STATE_DIR]"),
  ...profileOptions,
  secretStdin: secretStdinOption,
  verbose: verboseOption
}

// -----------------------------------------------------------------------------
// building blocks
// -----------------------------------------------------------------------------

const refreshPolicy = (settings: Settings.Settings): RefreshPolicy.Service =>
  settings.buffer === undefined
    ? RefreshPolicy.make({ buffer: "1 minute", fraction: 0.1 })
    : RefreshPolicy.make({ buffer: settings.buffer })

/** The HTTP client of the commands, traced at debug level (`--verbose`). */
const httpClient: Effect.Effect<HttpClient.HttpClient, never, HttpClient.HttpClient> = Effect.map(
  HttpClient.HttpClient,
  Output.traced
)

const optionalSecret = (settings: Settings.Settings) =>
  Settings.needsSecret(settings) ? Effect.map(Settings.readSecret(settings), Option.some) : Effect.succeedNone

/** `login_required` (OpenID Connect): the device flow would have to ask a person. */
const loginRequired = (settings: Settings.Settings): TokenError.HttpError =>
  new TokenError.HttpError({
    reason: "Status",
    error: "login_required",
    detail: `profile ${settings.profile} has no login that can be renewed`
  })

/**
 * A device grant for `token` and `header`: renews with the refresh token, but never starts a device flow
 * (a script has no one to approve it): `login_required` instead, which says to run `tokenlayer login`.
 */
const withoutDeviceFlow = (
  settings: Settings.Settings,
  secret: Option.Option<Redacted.Redacted<string>>,
  client: HttpClient.HttpClient
): Effect.Effect<Grant.Service, Errors.CliError> =>
  Effect.gen(function*() {
    const asked = yield* Deferred.make<void>()
    const grant = yield* Settings.makeGrant(
      settings,
      secret,
      client,
      () => Effect.zipRight(Deferred.succeed(asked, undefined), Effect.never)
    )
    return {
      ...grant,
      request: (current) =>
        Option.isNone(current) || current.value.refreshToken === undefined
          ? Effect.fail(loginRequired(settings))
          : Effect.raceFirst(
            grant.request(current),
            Effect.zipRight(Deferred.await(asked), Effect.fail(loginRequired(settings)))
          )
    } satisfies Grant.Service
  })

/** A token service over the settings' grant and the file store, in the current scope. */
const tokenService = (
  settings: Settings.Settings,
  grant: Grant.Service
): Effect.Effect<TokenService.Service, never, Scope.Scope> =>
  TokenService.make().pipe(
    Effect.provideService(Grant.Grant, grant),
    Effect.provideService(RefreshPolicy.RefreshPolicy, refreshPolicy(settings)),
    Effect.provide(Layer.merge(
      RetryPolicy.layerWith({ retries: settings.retries }),
      TokenStore.layerFile({ directory: settings.stateDir })
    ))
  )

/** The file store of the settings, as a value (for `status`, `login`, `logout`). */
const fileStore = (settings: Settings.Settings) => TokenStore.makeFile({ directory: settings.stateDir })

const storeFailure = (error: TokenError.StoreError): Errors.CliError =>
  Errors.config(`the token store failed: ${Errors.oneLine(error.reason, 300)}`)

/** A valid token for the settings, from the store or the server. */
const validToken = (flags: Settings.Flags) =>
  Effect.gen(function*() {
    const settings = yield* Settings.resolve(flags)
    const client = yield* httpClient
    const secret = yield* optionalSecret(settings)
    const grant = settings.grant === "device_code"
      ? yield* withoutDeviceFlow(settings, secret, client)
      : yield* Settings.makeGrant(settings, secret, client)
    const tokens = yield* tokenService(settings, grant)
    const token = yield* tokens.get.pipe(Effect.catchAll((error) => stillValid(settings, tokens, error)))
    return { settings, token }
  }).pipe(Effect.scoped)

/**
 * A renewal that failed while the cached token is still valid (due, not expired): the cached token,
 * with a warning, until it expires, as the library serves it through a failed renewal. A new process
 * has no token in memory (the service's hold applies to tokens it holds), so the command reads the
 * store's copy itself; past its expiry, or with nothing cached, the typed failure.
 */
const stillValid = (
  settings: Settings.Settings,
  tokens: TokenService.Service,
  error: TokenError.HttpError
): Effect.Effect<Token.Token, Errors.CliError> =>
  tokens.current.pipe(
    Effect.tap((token) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const left = refreshPolicy(settings).expiresAt(token).epochMillis - now
        return Output.err(
          `warning: profile ${settings.profile}: the token could not be renewed (${
            Errors.fromHttpError(error, settings).text.replace(`profile ${settings.profile}: `, "")
          }); the cached token is still valid for ${Output.formatDuration(left)} and is used`
        )
      })
    ),
    Effect.mapError(() => Errors.fromHttpError(error, settings))
  )

const withVerbosity = Output.withVerbosity

// -----------------------------------------------------------------------------
// token, header
// -----------------------------------------------------------------------------

/**
 * What goes on stdout to be used as it is is checked, not escaped (an escaped token is another token):
 * a token that is not visible ASCII, or a `token_type` that is not an HTTP token (a CR/LF in it would
 * add a header of the server's choosing to `curl -H "$(tokenlayer header)"`), is refused.
 */
const printable = (settings: { readonly profile: string }, token: Token.Token, withType: boolean) => {
  const refuse = (what: string) =>
    Effect.fail(Errors.config(
      `profile ${settings.profile}: ${what}, so it is not printed: check the token URL of the profile ` +
        `(tokenlayer logout deletes a cached token)`
    ))
  if (!Sanitize.isVisibleAscii(Redacted.value(token.accessToken))) {
    return refuse("the access token holds characters other than visible ASCII")
  }
  if (withType && !Sanitize.isHttpToken(token.tokenType)) {
    return refuse(
      `the token type "${Errors.oneLine(token.tokenType, 60)}" is not an HTTP authentication scheme`
    )
  }
  return Effect.void
}

/** A valid token that can be printed as it is (`printable`). */
const printableToken = (flags: Settings.Flags, withType: boolean) =>
  Effect.tap(validToken(flags), ({ settings, token }) => printable(settings, token, withType))

const tokenCommand = Command.make(
  "token",
  settingsOptions,
  (flags) =>
    printableToken(flags, false).pipe(
      Effect.flatMap(({ token }) => Output.out(Redacted.value(token.accessToken))),
      withVerbosity(flags.verbose)
    )
).pipe(Command.withDescription("Print a valid access token, and nothing else."))

const headerCommand = Command.make(
  "header",
  settingsOptions,
  (flags) =>
    printableToken(flags, true).pipe(
      Effect.flatMap(({ token }) => Output.out(`Authorization: ${Token.authorizationHeader(token)}`)),
      withVerbosity(flags.verbose)
    )
).pipe(Command.withDescription("Print the header that carries a valid access token: Authorization: Bearer ..."))

// -----------------------------------------------------------------------------
// status
// -----------------------------------------------------------------------------

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
    const client = yield* httpClient
    const grant = yield* Settings.makeGrant(settings, Option.none(), client)
    const store = yield* fileStore(settings)
    const file = path.join(settings.stateDir, TokenStore.fileName(grant.key))
    const loaded = yield* store.load(grant.key).pipe(
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

const statusCommand = Command.make(
  "status",
  { ...settingsOptions, json: jsonOption },
  (flags) =>
    Effect.gen(function*() {
      const settings = yield* Settings.resolve(flags)
      const report = yield* statusReport(settings)
      const now = yield* Clock.currentTimeMillis
      yield* Output.out(flags.json ? Sanitize.json(report) : renderStatus(report, now))
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
    }).pipe(withVerbosity(flags.verbose))
).pipe(
  Command.withDescription("Show the cached token: profile, grant, scope, times, remaining lifetime (never the token).")
)

// -----------------------------------------------------------------------------
// login
// -----------------------------------------------------------------------------

/**
 * The device prompt of `login`: the verification URI and the user code on stderr, a QR code of
 * `verification_uri_complete` when stderr is a terminal, and the time left while the flow polls (a live
 * countdown on a terminal, a line a minute otherwise). The countdown runs in `scope`, and is stopped by
 * whoever holds `countdown`.
 */
const devicePrompt = (
  scope: Scope.Scope,
  countdown: Ref.Ref<Option.Option<Fiber.RuntimeFiber<void>>>
): Settings.Prompt =>
(authorization) =>
  Effect.gen(function*() {
    const terminal = Output.stderrIsTerminal()
    // the server's words, escaped and bounded
    yield* Output.err(
      `to sign in, open ${Errors.oneLine(authorization.verificationUri, 500)} and enter the code ${
        Errors.oneLine(authorization.userCode, 100)
      }`
    )
    if (authorization.verificationUriComplete !== undefined) {
      yield* Output.err(`or open ${Errors.oneLine(authorization.verificationUriComplete, 600)}`)
    }
    if (terminal) {
      const qr = yield* Qr.render(authorization.verificationUriComplete ?? authorization.verificationUri)
      if (Option.isSome(qr)) yield* Output.errRaw(qr.value)
    }
    const deadline = authorization.expiresAt.epochMillis
    const tick = terminal
      ? Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Output.errRaw(`\r\x1b[2Ktokenlayer: waiting for approval, ${Output.formatClock(deadline - now)} left`))
      : Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Output.err(`waiting for approval; the code expires in ${Output.formatDuration(deadline - now)}`))
    const fiber = yield* Effect.forkIn(
      Effect.forever(Effect.zipRight(tick, Effect.sleep(terminal ? "1 second" : "1 minute"))),
      scope
    )
    yield* Ref.set(countdown, Option.some(fiber))
  })

const stopCountdown = (countdown: Ref.Ref<Option.Option<Fiber.RuntimeFiber<void>>>) =>
  Effect.flatMap(Ref.getAndSet(countdown, Option.none()), (fiber) =>
    Option.isNone(fiber)
      ? Effect.void
      : Effect.zipRight(
        Fiber.interrupt(fiber.value),
        Output.stderrIsTerminal() ? Output.errRaw("\r\x1b[2K") : Effect.void
      ))

const describeNewToken = (token: Token.Token, policy: RefreshPolicy.Service): string => {
  const expiresAt = policy.expiresAt(token)
  return `valid until ${DateTime.formatIso(expiresAt)}${
    token.scope === undefined ? "" : `, scope ${Errors.oneLine(token.scope, 300)}`
  }${token.refreshToken === undefined ? "" : ", with a refresh token"}`
}

const loginCommand = Command.make(
  "login",
  settingsOptions,
  (flags) =>
    Effect.gen(function*() {
      const settings = yield* Settings.resolve(flags)
      const client = yield* httpClient
      const secret = yield* optionalSecret(settings)
      const policy = refreshPolicy(settings)
      if (settings.grant !== "device_code") {
        const grant = yield* Settings.makeGrant(settings, secret, client)
        const tokens = yield* tokenService(settings, grant)
        const token = yield* tokens.refresh.pipe(Effect.mapError((error) => Errors.fromHttpError(error, settings)))
        return yield* Output.err(`profile ${settings.profile}: new token, ${describeNewToken(token, policy)}`)
      }
      const scope = yield* Effect.scope
      const countdown = yield* Ref.make(Option.none<Fiber.RuntimeFiber<void>>())
      const grant = yield* Settings.makeGrant(settings, secret, client, devicePrompt(scope, countdown))
      const store = yield* fileStore(settings)
      const token = yield* grant.request(Option.none()).pipe(
        Effect.ensuring(stopCountdown(countdown)),
        Effect.mapError((error) => Errors.fromHttpError(error, settings))
      )
      yield* store.withLock(grant.key, store.save(grant.key, token)).pipe(Effect.mapError(storeFailure))
      yield* Output.err(`profile ${settings.profile}: logged in, token ${describeNewToken(token, policy)}`)
    }).pipe(Effect.scoped, withVerbosity(flags.verbose))
).pipe(Command.withDescription("Log in with the device flow (or get a new token now, for other grants) and save it."))

// -----------------------------------------------------------------------------
// logout
// -----------------------------------------------------------------------------

/** Where to revoke: the settings' revocation URL, or the issuer's metadata. `None`: nowhere. */
const revocationEndpoint = (
  settings: Settings.Settings,
  client: HttpClient.HttpClient
): Effect.Effect<Option.Option<{ readonly revocationUrl: string; readonly tokenUrl: string }>, TokenError.HttpError> =>
  Effect.gen(function*() {
    if (settings.revocationUrl !== undefined) {
      return Option.some({
        revocationUrl: settings.revocationUrl,
        tokenUrl: settings.tokenUrl ?? settings.revocationUrl
      })
    }
    if (settings.issuer === undefined) return Option.none()
    const metadata = yield* Grant.discover(settings.issuer).pipe(Effect.provideService(HttpClient.HttpClient, client))
    return metadata.revocationEndpoint === undefined
      ? Option.none()
      : Option.some({
        revocationUrl: metadata.revocationEndpoint,
        tokenUrl: settings.tokenUrl ?? metadata.tokenEndpoint
      })
  })

const logoutCommand = Command.make(
  "logout",
  settingsOptions,
  (flags) =>
    Effect.gen(function*() {
      const settings = yield* Settings.resolve(flags)
      const client = yield* httpClient
      const keyGrant = yield* Settings.makeGrant(settings, Option.none(), client)
      const store = yield* fileStore(settings)
      const cached = yield* store.load(keyGrant.key).pipe(
        Effect.map(Option.some),
        Effect.catchTags({ NotCached: () => Effect.succeedNone, Corrupted: () => Effect.succeedNone }),
        Effect.mapError(storeFailure)
      )
      yield* store.withLock(keyGrant.key, store.remove(keyGrant.key)).pipe(Effect.mapError(storeFailure))
      const who = `profile ${settings.profile}`
      if (Option.isNone(cached)) return yield* Output.err(`${who}: no token was cached; nothing to revoke`)
      const notRevoked = (error: Errors.CliError) =>
        new Errors.CliError({ kind: error.kind, text: `${who}: token deleted, but not revoked: ${error.text}` })
      const endpoint = yield* revocationEndpoint(settings, client).pipe(
        Effect.mapError((error) => notRevoked(Errors.fromHttpError(error, settings)))
      )
      if (Option.isNone(endpoint)) {
        return yield* Output.err(
          `${who}: token deleted; the server publishes no revocation endpoint, so it stays valid until it expires`
        )
      }
      const secret = yield* optionalSecret(settings).pipe(Effect.mapError(notRevoked))
      const auth = yield* Settings.clientAuth(settings, secret).pipe(Effect.mapError(notRevoked))
      const count = yield* Revocation.revoke(client, {
        ...endpoint.value,
        clientId: settings.clientId ?? settings.assertionIssuer ?? "",
        auth
      }, cached.value).pipe(Effect.mapError((error) => notRevoked(Errors.fromHttpError(error, settings))))
      yield* Output.err(
        `${who}: token deleted and revoked (${count === 2 ? "access and refresh token" : "access token"})`
      )
    }).pipe(withVerbosity(flags.verbose))
).pipe(
  Command.withDescription("Delete the cached token, and revoke it when the server publishes a revocation endpoint.")
)

// -----------------------------------------------------------------------------
// profile add | list | remove
// -----------------------------------------------------------------------------

/**
 * What is wrong with the settings given to `profile add`: a value longer than `Sanitize.maxValue` (a
 * path longer than `Sanitize.maxPath`), or a `--secret-env` that is not a variable's name (it may be the
 * secret itself: never repeated). `undefined` when nothing is.
 */
const profileFlagsProblem = (
  flags: {
    readonly [K in keyof typeof profileOptions]: Option.Option<unknown>
  }
): string | undefined => {
  for (const [key, value] of Object.entries(flags)) {
    if (!Option.isOption(value) || Option.isNone(value) || typeof value.value !== "string") continue
    const option = `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`
    const max = key === "secretFile" ? Sanitize.maxPath : key === "buffer" ? Sanitize.maxDuration : Sanitize.maxValue
    if (Sanitize.tooLong(value.value, max)) return Sanitize.tooLongText(option, value.value, max)
    if (key === "secretEnv" && !Sanitize.isEnvName(value.value)) return Sanitize.notAnEnvName("--secret-env")
  }
  return undefined
}

const nameArg = Args.text({ name: "name" }).pipe(Args.withDescription("the profile's name"))

const loadConfig = (flag: Option.Option<string>) =>
  Effect.flatMap(Profiles.configPath(flag), (file) => Effect.map(Profiles.load(file), (config) => ({ file, config })))

const secretsDirectory = (configFile: string) => path.join(path.dirname(configFile), "secrets")

const profileAdd = Command.make(
  "add",
  {
    name: nameArg,
    config: configOption,
    ...profileOptions,
    secretStdin: secretStdinOption.pipe(
      Options.withDescription("read the secret from standard input and keep it in a 0600 file next to the config")
    ),
    makeDefault: Options.boolean("default").pipe(Options.withDescription("make it the default profile")),
    force: Options.boolean("force").pipe(Options.withDescription("replace a profile of the same name"))
  },
  (flags) =>
    Effect.gen(function*() {
      if (!Profiles.validName(flags.name)) {
        return yield* Effect.fail(Errors.usage(
          `"${Errors.oneLine(flags.name, 70)}" is not a profile name: use letters, digits, ., _ and - (at most 64)`
        ))
      }
      const problem = profileFlagsProblem(flags)
      if (problem !== undefined) return yield* Effect.fail(Errors.usage(problem))
      const { config, file } = yield* loadConfig(flags.config)
      if (config.profiles[flags.name] !== undefined && !flags.force) {
        return yield* Effect.fail(
          Errors.config(`profile ${flags.name} exists in ${Profiles.quote(file)}: add --force to replace it`)
        )
      }
      const given = (option: Option.Option<string>) => Option.getOrUndefined(option)
      const profile: Record<string, unknown> = {
        grant: given(flags.grant),
        issuer: given(flags.issuer),
        tokenUrl: given(flags.tokenUrl),
        deviceAuthorizationUrl: given(flags.deviceAuthorizationUrl),
        revocationUrl: given(flags.revocationUrl),
        clientId: given(flags.clientId),
        clientAuth: given(flags.clientAuth),
        scope: given(flags.scope),
        audience: given(flags.audience),
        buffer: given(flags.buffer),
        secretEnv: given(flags.secretEnv),
        secretFile: given(flags.secretFile),
        keyId: given(flags.keyId),
        assertionIssuer: given(flags.assertionIssuer),
        subject: given(flags.subject),
        retries: Option.getOrUndefined(flags.retries)
      }
      for (const key of Object.keys(profile)) if (profile[key] === undefined) delete profile[key]
      for (
        const [key, label] of [["issuer", "issuer"], ["tokenUrl", "token URL"], [
          "deviceAuthorizationUrl",
          "device authorization URL"
        ], ["revocationUrl", "revocation URL"]] as const
      ) {
        const value = profile[key]
        const problem = typeof value === "string" ? Settings.urlProblem(label, value) : undefined
        if (problem !== undefined) return yield* Effect.fail(Errors.usage(problem))
      }
      if (typeof profile.buffer === "string" && Option.isNone(Settings.parseDuration(profile.buffer))) {
        return yield* Effect.fail(
          Errors.usage(`the buffer ${Errors.oneLine(profile.buffer, 60)} is not a duration: write 30s, 5m or 1h`)
        )
      }
      if (flags.retries._tag === "Some" && (flags.retries.value < 0 || flags.retries.value > 10)) {
        return yield* Effect.fail(Errors.usage("--retries must be a whole number from 0 to 10"))
      }
      if (flags.secretStdin) {
        if (profile.secretFile !== undefined || profile.secretEnv !== undefined) {
          return yield* Effect.fail(Errors.usage("give one of --secret-stdin, --secret-file and --secret-env"))
        }
        const secret = yield* Settings.readSecretStdin
        const secretFile = path.join(secretsDirectory(file), flags.name)
        yield* Profiles.writePrivate(secretFile, `${Redacted.value(secret)}\n`, "the secret file")
        profile.secretFile = secretFile
        yield* Output.err(`the secret is kept in ${Profiles.quote(secretFile)} (mode 0600)`)
      } else if (typeof profile.secretFile === "string") {
        const checked = yield* Effect.either(Settings.readSecretFile(path.resolve(profile.secretFile), "--secret-file"))
        if (checked._tag === "Left") yield* Output.err(`warning: ${checked.left.text}`)
      }
      const next: Profiles.ConfigFile = {
        ...(flags.makeDefault || Object.keys(config.profiles).length === 0 || config.default === undefined
          ? { default: flags.makeDefault || config.default === undefined ? flags.name : config.default }
          : { default: config.default }),
        profiles: { ...config.profiles, [flags.name]: profile as Profiles.Profile }
      }
      yield* Profiles.save(file, next)
      yield* Output.err(
        `profile ${flags.name} ${config.profiles[flags.name] === undefined ? "added to" : "replaced in"} ${
          Profiles.quote(file)
        }${next.default === flags.name ? " (the default)" : ""}`
      )
    })
).pipe(
  Command.withDescription(
    "Add a profile (secrets are named, never given: --secret-env, --secret-file, --secret-stdin)."
  )
)

const profileList = Command.make(
  "list",
  { config: configOption, json: jsonOption },
  (flags) =>
    Effect.gen(function*() {
      const { config, file } = yield* loadConfig(flags.config)
      if (flags.json) return yield* Output.out(Sanitize.json({ file, ...config }))
      const names = Object.keys(config.profiles).sort()
      if (names.length === 0) {
        return yield* Output.err(
          `no profiles in ${
            Profiles.quote(file)
          }: add one with tokenlayer profile add NAME --token-url URL --client-id ID --secret-env VAR`
        )
      }
      const rows = names.map((name) => {
        const profile = config.profiles[name]!
        return [
          `${name === config.default ? "*" : " "} ${name}`,
          profile.grant ?? "client_credentials",
          Errors.oneLine(profile.tokenUrl ?? profile.issuer ?? "-", 200),
          Errors.oneLine(profile.clientId ?? profile.assertionIssuer ?? "-", 100),
          Errors.oneLine(profile.scope ?? "", 200)
        ]
      })
      const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length)))
      for (const row of rows) {
        yield* Output.out(row.map((cell, i) => i < 4 ? cell.padEnd(widths[i]!) : cell).join("  ").trimEnd())
      }
    })
).pipe(Command.withDescription("List the profiles (* marks the default)."))

const profileRemove = Command.make(
  "remove",
  { name: nameArg, config: configOption, stateDir: settingsOptions.stateDir },
  (flags) =>
    Effect.gen(function*() {
      if (!Profiles.validName(flags.name)) {
        return yield* Effect.fail(Errors.usage(`"${Errors.oneLine(flags.name, 70)}" is not a profile name`))
      }
      const { config, file } = yield* loadConfig(flags.config)
      const profile = config.profiles[flags.name]
      if (profile === undefined) {
        return yield* Effect.fail(
          Errors.config(`no profile ${flags.name} in ${Profiles.quote(file)}: see tokenlayer profile list`)
        )
      }
      // its cached token goes too (not revoked: that is what logout is for)
      const removedToken = yield* Effect.gen(function*() {
        const settings = yield* Settings.resolve({
          ...noFlags,
          profile: Option.some(flags.name),
          config: flags.config,
          stateDir: flags.stateDir
        })
        const client = yield* httpClient
        const grant = yield* Settings.makeGrant(settings, Option.none(), client)
        const store = yield* fileStore(settings)
        const had = yield* store.load(grant.key).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
        yield* store.remove(grant.key)
        return had
      }).pipe(Effect.orElseSucceed(() => false))
      const { [flags.name]: _removed, ...rest } = config.profiles
      yield* Profiles.save(file, {
        ...(config.default === undefined || config.default === flags.name ? {} : { default: config.default }),
        profiles: rest
      })
      if (profile.secretFile !== undefined && path.dirname(profile.secretFile) === secretsDirectory(file)) {
        const fs = yield* FileSystem.FileSystem
        yield* fs.remove(profile.secretFile).pipe(Effect.ignore)
      }
      yield* Output.err(
        `profile ${flags.name} removed from ${Profiles.quote(file)}${removedToken ? ", with its cached token" : ""}`
      )
    })
).pipe(Command.withDescription("Remove a profile, its cached token and the secret file profile add kept."))

const noFlags: Settings.Flags = {
  profile: Option.none(),
  config: Option.none(),
  stateDir: Option.none(),
  grant: Option.none(),
  issuer: Option.none(),
  tokenUrl: Option.none(),
  deviceAuthorizationUrl: Option.none(),
  revocationUrl: Option.none(),
  clientId: Option.none(),
  clientAuth: Option.none(),
  scope: Option.none(),
  audience: Option.none(),
  buffer: Option.none(),
  secretEnv: Option.none(),
  secretFile: Option.none(),
  secretStdin: false,
  keyId: Option.none(),
  assertionIssuer: Option.none(),
  subject: Option.none(),
  retries: Option.none(),
  verbose: false
}

const profileCommand = Command.make("profile").pipe(
  Command.withDescription("Manage the profiles of the config file."),
  Command.withSubcommands([profileAdd, profileList, profileRemove])
)

/**
 * The `tokenlayer` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("tokenlayer").pipe(
  Command.withDescription("OAuth 2.0 access tokens for shell scripts: cached, renewed, never printed by accident."),
  Command.withSubcommands([tokenCommand, headerCommand, statusCommand, loginCommand, logoutCommand, profileCommand])
)

const cli = Command.run(command, { name: "tokenlayer", version, executable: "tokenlayer" })

// -----------------------------------------------------------------------------
// running
// -----------------------------------------------------------------------------

const joined = (args: ReadonlyArray<unknown>): string =>
  args.map((arg) => typeof arg === "string" ? arg : String(arg)).join(" ")

/**
 * The console of the parser: its `error` lines are kept (made one line before they are shown), and what
 * it prints on stdout (help, version) loses its colours when stdout is not a terminal.
 */
const parserConsole = (lines: Array<string>): Effect.Effect<Console.Console> =>
  Effect.map(Effect.console, (base) => ({
    ...base,
    log: (...args: ReadonlyArray<unknown>) =>
      Effect.sync(() => {
        const text = joined(args).replace(/\s+$/, "")

        process.stdout.write(`${process.stdout.isTTY === true ? text : text.replace(/\x1b\[[0-9;]*m/g, "")}\n`)
      }),
    error: (...args: ReadonlyArray<unknown>) =>
      Effect.sync(() => {
        lines.push(joined(args))
      })
  }))

/** A Clock shifted by `offset` milliseconds (`TOKENLAYER_CLOCK_OFFSET`): what the command would do later. */
const shiftedClock = (offset: number): Clock.Clock => {
  const base = Clock.make()
  const nanos = BigInt(Math.round(offset)) * 1_000_000n
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis() + offset,
    currentTimeMillis: Effect.sync(() => base.unsafeCurrentTimeMillis() + offset),
    unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos() + nanos,
    currentTimeNanos: Effect.sync(() => base.unsafeCurrentTimeNanos() + nanos),
    sleep: (duration: Duration.Duration) => base.sleep(duration)
  }
}

const clockOffset: Effect.Effect<number, Errors.CliError> = Effect.flatMap(
  Profiles.env("TOKENLAYER_CLOCK_OFFSET"),
  (value) => {
    if (Option.isNone(value)) return Effect.succeed(0)
    const millis = Settings.parseDuration(value.value, true)
    return Option.isNone(millis)
      ? Effect.fail(Errors.config("TOKENLAYER_CLOCK_OFFSET is not a duration: write 55m or -10s, or unset it"))
      : Effect.succeed(millis.value)
  }
)

/**
 * Runs the command on `argv` (`process.argv`) and answers its exit code. Never fails: every failure is a
 * one-line message on stderr and its code (see `Errors.ExitCode`).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<number, never, HttpClient.HttpClient | CliApp.CliApp.Environment> =>
  Effect.gen(function*() {
    const parserErrors: Array<string> = []
    const offset = yield* Effect.either(clockOffset)
    const exit = yield* Effect.exit(
      offset._tag === "Left"
        ? Effect.fail(offset.left)
        : cli(argv).pipe(
          Effect.withConsole(yield* parserConsole(parserErrors)),
          offset.right === 0 ? (effect) => effect : Effect.withClock(shiftedClock(offset.right))
        )
    )
    if (Exit.isSuccess(exit)) return Errors.ExitCode.success
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure)) {
      const error = failure.value
      if (error instanceof Errors.CliError) {
        yield* Output.err(error.text)
        return error.exitCode
      }
      if (ValidationError.isValidationError(error)) {
        const said = Sanitize.parserMessage(parserErrors.join(" "), argv, 300)
        yield* Output.err(`${said === "" ? "invalid command line" : said}; see tokenlayer --help`)
        return Errors.ExitCode.usage
      }
    }
    if (Cause.isInterruptedOnly(exit.cause)) return 130
    const defect = Cause.squash(exit.cause)
    const name = defect instanceof Error ? defect.name : typeof defect
    yield* Output.err(`unexpected failure (${name}); run again with --verbose, and report it if it persists`)
    return Errors.ExitCode.unexpected
  }).pipe(Effect.provide(Output.layerLogger))
