// A module resolve hook for bin/herald.js: adds the "herald-source" export condition, as
// `node --conditions=herald-source` does, so @herald/* packages resolve to their TypeScript sources.
export async function resolve(specifier, context, nextResolve) {
  const conditions = context.conditions.includes("herald-source") ? context.conditions : [...context.conditions, "herald-source"];
  return nextResolve(specifier, { ...context, conditions });
}
