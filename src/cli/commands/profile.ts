/**
 * `tokenlayer profile add | list | remove`: the profiles of the config file.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as path from "node:path"
import type * as Args from "../Args.js"
import * as ConfigLoad from "../ConfigLoad.js"
import * as Errors from "../Errors.js"
import * as Grants from "../Grants.js"
import * as Options from "../Options.js"
import * as Output from "../Output.js"
import * as Profiles from "../Profiles.js"
import * as Sanitize from "../Sanitize.js"
import * as Secrets from "../Secrets.js"
import * as Settings from "../Settings.js"
import { fileStore } from "../Tokens.js"

/**
 * What is wrong with the settings given to `profile add`: a value longer than `Sanitize.maxValue` (a
 * path longer than `Sanitize.maxPath`), a `--secret-env` that is not a variable's name (it may be the
 * secret itself: never repeated), a URL that is not one, a buffer that is not a duration. `undefined`
 * when nothing is.
 */
const profileFlagsProblem = (profile: Readonly<Record<string, unknown>>): string | undefined => {
  for (const option of Options.profileOptions) {
    const value = profile[option.key]
    if (typeof value !== "string") continue
    const name = `--${option.name}`
    const max = option.key === "secretFile"
      ? Sanitize.maxPath
      : option.key === "buffer"
      ? Sanitize.maxDuration
      : Sanitize.maxValue
    if (Sanitize.tooLong(value, max)) return Sanitize.tooLongText(name, value, max)
    if (option.key === "secretEnv" && !Sanitize.isEnvName(value)) return Sanitize.notAnEnvName(name)
    if (option.placeholder === "URL") {
      const problem = Settings.urlProblem(option.name.replace(/-url$/, " URL").replace(/-/g, " "), value)
      if (problem !== undefined) return `${problem} (from ${name})`
    }
    if (option.key === "buffer" && Option.isNone(Settings.parseDuration(value))) {
      return `--buffer ${Errors.oneLine(value, 60)} is not a duration: write 30s, 5m or 1h`
    }
  }
  return undefined
}

const notAName = (name: string) =>
  Errors.usage(
    `"${Errors.oneLine(name, 70)}" is not a profile name: use letters, digits, ., _ and - (at most 64)`
  )

/** The config file: `--config` (which must exist, except for `profile add`), else the default. */
const loadConfig = (flag: string | undefined, create = false) => ConfigLoad.open(flag, create)

const secretsDirectory = (configFile: string) => path.join(path.dirname(configFile), "secrets")

/**
 * `tokenlayer profile add <name>`.
 *
 * @since 0.1.0
 * @category commands
 */
export const add = (parsed: Args.Parsed) =>
  Effect.gen(function*() {
    const flags = parsed.values
    const name = parsed.args[0]!
    if (!Profiles.validName(name)) return yield* Effect.fail(notAName(name))
    const profile: Record<string, unknown> = {}
    for (const option of Options.profileOptions) {
      if (flags[option.key] !== undefined) profile[option.key] = flags[option.key]
    }
    const problem = profileFlagsProblem(profile)
    if (problem !== undefined) return yield* Effect.fail(Errors.usage(problem))
    const { config, file } = yield* loadConfig(flags.config as string | undefined, true)
    if (config.profiles[name] !== undefined && flags.force !== true) {
      return yield* Effect.fail(
        Errors.config(`profile ${name} exists in ${Profiles.quote(file)}: add --force to replace it`)
      )
    }
    if (flags.secretStdin === true) {
      if (profile.secretFile !== undefined || profile.secretEnv !== undefined) {
        return yield* Effect.fail(Errors.usage("give one of --secret-stdin, --secret-file and --secret-env"))
      }
      const secret = yield* Secrets.readSecretStdin
      const secretFile = path.join(secretsDirectory(file), name)
      yield* Profiles.writePrivate(secretFile, `${Redacted.value(secret)}\n`, "the secret file")
      profile.secretFile = secretFile
      yield* Output.err(`the secret is kept in ${Profiles.quote(secretFile)} (mode 0600)`)
    } else if (typeof profile.secretFile === "string") {
      const checked = yield* Effect.either(Secrets.readSecretFile(path.resolve(profile.secretFile), "--secret-file"))
      if (checked._tag === "Left") yield* Output.err(`warning: ${checked.left.text}`)
    }
    const makeDefault = flags.makeDefault === true || config.default === undefined
    const next: Profiles.ConfigFile = {
      default: makeDefault ? name : config.default!,
      profiles: { ...config.profiles, [name]: profile as Profiles.Profile }
    }
    yield* Profiles.save(file, next)
    yield* Output.err(
      `profile ${name} ${config.profiles[name] === undefined ? "added to" : "replaced in"} ${Profiles.quote(file)}${
        next.default === name ? " (the default)" : ""
      }`
    )
  })

/**
 * `tokenlayer profile list`.
 *
 * @since 0.1.0
 * @category commands
 */
export const list = (parsed: Args.Parsed) =>
  Effect.gen(function*() {
    const flags = parsed.values
    const { config, file } = yield* loadConfig(flags.config as string | undefined)
    if (flags.json === true) return yield* Output.out(Sanitize.json({ file, ...config }))
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

/**
 * `tokenlayer profile remove <name>`: the profile, its cached token (not revoked: that is what logout
 * is for) and the secret file `profile add` kept.
 *
 * @since 0.1.0
 * @category commands
 */
export const remove = (parsed: Args.Parsed) =>
  Effect.gen(function*() {
    const flags = parsed.values
    const name = parsed.args[0]!
    if (!Profiles.validName(name)) return yield* Effect.fail(notAName(name))
    const { config, file } = yield* loadConfig(flags.config as string | undefined)
    const profile = config.profiles[name]
    if (profile === undefined) {
      return yield* Effect.fail(
        Errors.config(`no profile ${name} in ${Profiles.quote(file)}: see tokenlayer profile list`)
      )
    }
    const removedToken = yield* Effect.gen(function*() {
      const settings = yield* Settings.resolve({ profile: name, config: flags.config, stateDir: flags.stateDir })
      const key = Grants.keyOf(settings)
      const store = yield* fileStore(settings)
      const had = yield* store.load(key).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
      yield* store.remove(key)
      return had
    }).pipe(Effect.orElseSucceed(() => false))
    const { [name]: _removed, ...rest } = config.profiles
    yield* Profiles.save(file, {
      ...(config.default === undefined || config.default === name ? {} : { default: config.default }),
      profiles: rest
    })
    if (profile.secretFile !== undefined && path.dirname(profile.secretFile) === secretsDirectory(file)) {
      const fs = yield* FileSystem.FileSystem
      yield* fs.remove(profile.secretFile).pipe(Effect.ignore)
    }
    yield* Output.err(
      `profile ${name} removed from ${Profiles.quote(file)}${removedToken ? ", with its cached token" : ""}`
    )
  })
