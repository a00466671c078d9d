/**
 * The command line of `tokenlayer`: what each command accepts (`Spec`), the parser, and the help text
 * made from the same specs.
 *
 * Written by hand rather than with a framework: the help reads as a person wrote it (a top-level list
 * of commands, one line each, as `gh --help` does; per command its options, their variables and an
 * example), every bad value names its option and its value and is a usage error (exit 2), and the
 * command starts without loading a parser library.
 *
 * - `--name value` and `--name=value`; `-p value` for an option with a short name; `--` ends options.
 * - A value that starts with `--` is not taken as a value (`--profile --verbose`: `--profile` needs a
 *   value); `--retries -1` gives `-1` to `--retries`, which refuses it by name.
 * - An unknown `--option=value` is named by the part before `=`, and a value given to a flag that
 *   takes none is not repeated: people type secrets there.
 *
 * @since 0.1.0
 */
import * as Errors from "./Errors.js"

/**
 * What an option takes.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind =
  | { readonly _tag: "Text" }
  | { readonly _tag: "Flag" }
  | { readonly _tag: "Integer"; readonly min: number; readonly max: number }
  | { readonly _tag: "Choice"; readonly choices: ReadonlyArray<string> }

/**
 * One option of a command.
 *
 * @since 0.1.0
 * @category models
 */
export interface OptionSpec {
  /** `token-url`: given as `--token-url`. */
  readonly name: string
  /** Where the parsed value goes: `tokenUrl`. */
  readonly key: string
  readonly short?: string | undefined
  readonly kind: Kind
  /** The placeholder in the help: `URL`. */
  readonly placeholder?: string | undefined
  /** The `TOKENLAYER_*` variable that gives it too, shown in the help. */
  readonly env?: string | undefined
  readonly description: string
}

/**
 * One command (`token`, `profile add`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Spec {
  /** `token`, `profile add`. */
  readonly path: string
  /** One line for the list of commands. */
  readonly summary: string
  /** What it does, for its own help (a few lines). */
  readonly description?: string | undefined
  /** Positional arguments, by name (`name`); all required. */
  readonly args?: ReadonlyArray<{ readonly name: string; readonly description: string }> | undefined
  readonly options: ReadonlyArray<OptionSpec>
  readonly examples: ReadonlyArray<string>
}

/**
 * What a command line gave: the values by option key (flags as `true`), the positional arguments.
 *
 * @since 0.1.0
 * @category models
 */
export interface Parsed {
  readonly values: Readonly<Record<string, string | number | boolean | undefined>>
  readonly args: ReadonlyArray<string>
}

const seeHelp = (spec: Spec): string => `; see tokenlayer ${spec.path} --help`

/** How an option is written in a message: `--token-url`. */
const shown = (arg: string): string => Errors.oneLine(arg, 60)

/**
 * A value for `option`, checked against its kind; a usage error naming the option and the value.
 *
 * @since 0.1.0
 * @category parsing
 */
export const checkValue = (
  option: OptionSpec,
  value: string,
  origin: string = `--${option.name}`
): string | number | Errors.CliError => {
  const kind = option.kind
  switch (kind._tag) {
    case "Choice":
      return kind.choices.includes(value) ? value : Errors.usage(
        `${origin} ${Errors.oneLine(value, 60)} is not one of ${kind.choices.join(", ")}`
      )
    case "Integer": {
      const number = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN
      return Number.isSafeInteger(number) && number >= kind.min && number <= kind.max ? number : Errors.usage(
        `${origin} ${Errors.oneLine(value, 60)} is not a whole number from ${kind.min} to ${kind.max}`
      )
    }
    default:
      return value
  }
}

/**
 * Parses the arguments after the command's name against its spec.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (spec: Spec, argv: ReadonlyArray<string>): Parsed | Errors.CliError => {
  const values: Record<string, string | number | boolean | undefined> = {}
  const args: Array<string> = []
  const byName = new Map(spec.options.map((option) => [`--${option.name}`, option]))
  for (const option of spec.options) if (option.short !== undefined) byName.set(`-${option.short}`, option)
  let i = 0
  while (i < argv.length) {
    const arg = argv[i++]!
    if (arg === "--") {
      args.push(...argv.slice(i))
      break
    }
    if (!arg.startsWith("-") || arg === "-" || /^-\d/.test(arg)) {
      args.push(arg)
      continue
    }
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1
    const name = eq === -1 ? arg : arg.slice(0, eq)
    const option = byName.get(name)
    if (option === undefined) {
      const hidden = eq === -1 ? "" : " (its value is not shown)"
      return Errors.usage(`unknown option '${shown(name)}${eq === -1 ? "" : "=…"}'${hidden}${seeHelp(spec)}`)
    }
    if (option.kind._tag === "Flag") {
      if (eq !== -1) {
        return Errors.usage(
          `--${option.name} takes no value: the value given to --${option.name} (not shown) is refused${seeHelp(spec)}`
        )
      }
      values[option.key] = true
      continue
    }
    let value: string
    if (eq !== -1) {
      value = arg.slice(eq + 1)
    } else {
      const next = argv[i]
      if (next === undefined || next.startsWith("--")) {
        return Errors.usage(`${shown(name)} needs a value: ${shown(name)} ${placeholder(option)}${seeHelp(spec)}`)
      }
      value = next
      i++
    }
    if (values[option.key] !== undefined) {
      return Errors.usage(`--${option.name} is given twice${seeHelp(spec)}`)
    }
    const checked = checkValue(option, value, `--${option.name}`)
    if (checked instanceof Errors.CliError) {
      return Errors.usage(`${checked.text}${seeHelp(spec)}`)
    }
    values[option.key] = checked
  }
  const wanted = spec.args ?? []
  if (args.length < wanted.length) {
    return Errors.usage(
      `missing argument <${wanted[args.length]!.name}>: tokenlayer ${spec.path} ${
        wanted.map((a) => `<${a.name}>`).join(" ")
      } [options]${seeHelp(spec)}`
    )
  }
  if (args.length > wanted.length) {
    return Errors.usage(`unexpected argument '${Errors.oneLine(args[wanted.length]!, 60)}'${seeHelp(spec)}`)
  }
  return { values, args }
}

/** The edit distance of two short words (case counts half: `tokenURL` is near `tokenUrl`). */
const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const x = a[i - 1]!
      const y = b[j - 1]!
      const cost = x === y ? 0 : x.toLowerCase() === y.toLowerCase() ? 0.5 : 1
      row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost))
    }
    previous = row
  }
  return previous[b.length]!
}

/**
 * The known name nearest to `name`, if one is near enough to be what was meant (`tokenURL`:
 * `tokenUrl`; `tokn`: `token`).
 *
 * @since 0.1.0
 * @category suggestions
 */
export const closest = (name: string, known: ReadonlyArray<string>): string | undefined => {
  if (name.length > 64) return undefined
  let best: string | undefined = undefined
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 0.01
  for (const candidate of known) {
    const d = distance(name, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

// -----------------------------------------------------------------------------
// help
// -----------------------------------------------------------------------------

const width = 100

const placeholder = (option: OptionSpec): string => {
  if (option.placeholder !== undefined) return option.placeholder
  switch (option.kind._tag) {
    case "Choice":
      return option.kind.choices.length <= 4 ? option.kind.choices.join("|") : "METHOD"
    case "Integer":
      return "N"
    default:
      return "VALUE"
  }
}

/** `text` in lines of at most `room` characters, broken at spaces. */
const wrap = (text: string, room: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/)) {
    if (line !== "" && line.length + 1 + word.length > room) {
      lines.push(line)
      line = word
    } else {
      line = line === "" ? word : `${line} ${word}`
    }
  }
  if (line !== "") lines.push(line)
  return lines
}

/** Two columns: the left one padded to `column`, the right one wrapped under itself. */
const columns = (rows: ReadonlyArray<readonly [string, string]>, column: number): Array<string> =>
  rows.flatMap(([left, right]) => {
    const body = wrap(right, width - column)
    const indent = " ".repeat(column)
    if (left.length + 2 > column) return [left, ...body.map((text) => `${indent}${text}`)]
    return body.length === 0
      ? [left]
      : body.map((text, i) => `${i === 0 ? left.padEnd(column) : indent}${text}`)
  })

/**
 * The help of one command: usage, what it does, its options (each with its variable), an example.
 *
 * @since 0.1.0
 * @category help
 */
export const commandHelp = (spec: Spec): string => {
  const args = (spec.args ?? []).map((a) => ` <${a.name}>`).join("")
  const lines = [
    `Usage: tokenlayer ${spec.path}${args} [options]`,
    "",
    ...wrap(spec.description ?? spec.summary, width)
  ]
  if ((spec.args ?? []).length > 0) {
    lines.push("", "Arguments:", ...columns((spec.args ?? []).map((a) => [`  <${a.name}>`, a.description]), 30))
  }
  const rows = spec.options.map((option): readonly [string, string] => {
    const names = `${option.short === undefined ? "    " : `-${option.short}, `}--${option.name}`
    const value = option.kind._tag === "Flag" ? "" : ` ${placeholder(option)}`
    return [`  ${names}${value}`, `${option.description}${option.env === undefined ? "" : ` [${option.env}]`}`]
  })
  rows.push(["  -h, --help", "show this help"])
  lines.push("", "Options:", ...columns(rows, 32))
  if (spec.options.some((option) => option.env !== undefined)) {
    lines.push(
      "",
      ...wrap(
        "Environment: each [TOKENLAYER_*] variable gives its option when the flag is not given; both override the profile.",
        width
      )
    )
  }
  lines.push("", spec.examples.length > 1 ? "Examples:" : "Example:", ...spec.examples.map((e) => `  ${e}`))
  return lines.join("\n")
}

/**
 * The help of a command with subcommands (`profile`): its subcommands, one line each.
 *
 * @since 0.1.0
 * @category help
 */
export const groupHelp = (spec: Spec, children: ReadonlyArray<Spec>): string =>
  [
    `Usage: tokenlayer ${spec.path} <${children.map((c) => c.path.slice(spec.path.length + 1)).join("|")}> [options]`,
    "",
    ...wrap(spec.description ?? spec.summary, width),
    "",
    "Commands:",
    ...columns(children.map((c) => [`  ${c.path.slice(spec.path.length + 1)}`, c.summary]), 16),
    "",
    `Run tokenlayer ${spec.path} <command> --help for a command's options.`
  ].join("\n")

/**
 * The top-level help: what the command is, its commands one line each, the global options, the exit
 * codes. Fits in 30 lines of 100 columns.
 *
 * @since 0.1.0
 * @category help
 */
export const mainHelp = (specs: ReadonlyArray<Spec>): string => {
  const top = specs.filter((spec) => !spec.path.includes(" "))
  return [
    "tokenlayer: OAuth 2.0 access tokens for shell scripts, cached, renewed, never printed by accident.",
    "",
    "Usage: tokenlayer <command> [options]",
    "",
    "Commands:",
    ...columns(top.map((spec) => [`  ${spec.path}`, spec.summary]), 16),
    "",
    "Options:",
    ...columns([
      ["  -h, --help", "show help; tokenlayer <command> --help shows a command's options"],
      ["  -V, --version", "show the version"]
    ], 18),
    "",
    "Examples:",
    "  tokenlayer profile add api --token-url https://auth.example.com/token --client-id app \\",
    "    --secret-env API_SECRET",
    "  curl -H \"$(tokenlayer header -p api)\" https://api.example.com/things",
    "",
    ...wrap(`Exit codes: ${Errors.exitCodeSummary}.`, width)
  ].join("\n")
}
