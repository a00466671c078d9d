/**
 * What a failed decode says without the values it found: the paths of the fields that failed.
 *
 * @internal
 */
import type * as ParseResult from "effect/ParseResult"

/**
 * The names of the fields that failed to decode (see `Token.describeParseError`).
 *
 * @internal
 */
export const describeParseError = (error: ParseResult.ParseError): string => {
  const paths = new Set<string>()
  // the issue tree walked by hand, not through a formatter: a formatter prints the values it found,
  // and printing a value nested 100,000 levels deep overflows the stack
  const walk = (issue: ParseResult.ParseIssue, path: ReadonlyArray<PropertyKey>, depth: number): void => {
    if (depth > 64) {
      paths.add(path.length === 0 ? "(document)" : path.map(String).join("."))
      return
    }
    switch (issue._tag) {
      case "Pointer": {
        const at = Array.isArray(issue.path) ? issue.path : [issue.path]
        return walk(issue.issue, [...path, ...at], depth + 1)
      }
      case "Refinement":
      case "Transformation":
        return walk(issue.issue, path, depth + 1)
      case "Composite": {
        const issues = Array.isArray(issue.issues) ? issue.issues : [issue.issues as ParseResult.ParseIssue]
        for (const inner of issues) walk(inner, path, depth + 1)
        return
      }
      default:
        paths.add(path.length === 0 ? "(document)" : path.map(String).join("."))
    }
  }
  walk(error.issue, [], 0)
  return paths.size === 0
    ? "invalid document"
    : `invalid field${paths.size > 1 ? "s" : ""}: ${Array.from(paths).join(", ")}`
}
