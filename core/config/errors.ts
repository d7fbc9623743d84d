// Errors the user can fix by changing input: they print as one line per problem and exit with code 2.
export class UsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}
