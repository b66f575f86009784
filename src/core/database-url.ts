/** Whether KEYGATE_DATABASE names a PostgreSQL database; anything else is a SQLite file path. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//.test(location);
}
