/**
 * Where a command's settings come from, as one `ConfigProvider`: the flags, else the `TOKENLAYER_*`
 * environment, else the selected profile (`ConfigProvider.orElse`), each under the setting's name in
 * constant case (`TOKEN_URL`). A value is read with `Config` from the chain; `originOf` says which
 * source the chain took it from, so that a message about a flag names the flag (and is bad usage, exit
 * 2), and only a profile's own value is reported as the profile's (exit 3).
 *
 * An empty variable is no value (as an unset one), so that `TOKENLAYER_SCOPE= tokenlayer token` falls
 * back to the profile.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Args from "./Args.js"
import * as Options from "./Options.js"
import * as Profiles from "./Profiles.js"

/**
 * Where a value came from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Origin {
  /** `--token-url`, `TOKENLAYER_TOKEN_URL`, or `the tokenUrl of profile x in '<file>'`. */
  readonly label: string
  /** A flag or a variable: a bad value is bad usage (exit 2); a profile's is configuration (exit 3). */
  readonly given: boolean
}

/**
 * The settings' sources of a command.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sources {
  /** Flags, else `TOKENLAYER_*`, else the profile. */
  readonly provider: ConfigProvider.ConfigProvider
  /** The value of an option's setting, from the chain. */
  readonly read: (option: Args.OptionSpec) => Effect.Effect<Option.Option<string>>
  /** Which source the chain reads an option's setting from (`undefined`: none has it). */
  readonly originOf: (option: Args.OptionSpec) => Origin | undefined
}

/** `token-url`: `TOKEN_URL`, the name of a setting in every source. */
const settingName = (option: Args.OptionSpec): string => option.name.toUpperCase().replace(/-/g, "_")

const asText = (value: unknown): string | undefined =>
  typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined

/**
 * The sources of a command's settings: its flags, the environment (read through the current
 * `ConfigProvider`), and the selected profile (none: `{}`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  flags: Args.Parsed["values"],
  profile: Profiles.Profile,
  where: { readonly profile: string; readonly file: string }
): Effect.Effect<Sources> =>
  Effect.gen(function*() {
    const options = Options.settingsOptions.filter((option) => option.env !== undefined)
    const fromFlags = new Map<string, string>()
    const fromEnv = new Map<string, string>()
    const fromProfile = new Map<string, string>()
    for (const option of options) {
      const name = settingName(option)
      const flag = asText(flags[option.key])
      if (flag !== undefined) fromFlags.set(name, flag)
      const variable = yield* Profiles.env(option.env!)
      if (Option.isSome(variable)) fromEnv.set(name, variable.value)
      const field = asText(profile[option.key as keyof Profiles.Profile])
      if (field !== undefined) fromProfile.set(name, field)
    }
    const provider = ConfigProvider.fromMap(fromFlags).pipe(
      ConfigProvider.orElse(() => ConfigProvider.fromMap(fromEnv)),
      ConfigProvider.orElse(() => ConfigProvider.fromMap(fromProfile))
    )
    const originOf = (option: Args.OptionSpec): Origin | undefined => {
      const name = settingName(option)
      if (fromFlags.has(name)) return { label: `--${option.name}`, given: true }
      if (fromEnv.has(name)) return { label: option.env!, given: true }
      if (fromProfile.has(name)) {
        return { label: `the ${option.key} of profile ${where.profile} in ${Profiles.quote(where.file)}`, given: false }
      }
      return undefined
    }
    const read = (option: Args.OptionSpec) =>
      provider.load(Config.option(Config.string(settingName(option)))).pipe(
        Effect.orElseSucceed(() => Option.none<string>())
      )
    return { provider, read, originOf }
  })
