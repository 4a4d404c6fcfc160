// One style for the whole tree: neostandard, the style of the fastify family,
// with its TypeScript support. `npm run lint` is part of `npm test`.
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'tmp/**', 'node_modules/**', 'coverage/**', '.tap/**']
  }),
  {
    rules: {
      // `void promise` marks a promise whose outcome is handled elsewhere
      // (a stream's own error path); as a statement it cannot hide a value.
      'no-void': ['error', { allowAsStatement: true }]
    }
  },
  {
    files: ['**/*.ts'],
    rules: {
      // A loop that only counts what it reads names the value `_`.
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', caughtErrors: 'none', ignoreRestSiblings: true, vars: 'all', varsIgnorePattern: '^_$' }]
    }
  },
  {
    // Test data and bench corpora spell shell and template placeholders
    // (`${AWS_SECRET}`) on purpose: they are what a model writes.
    files: ['test/**', 'bench/**'],
    rules: { 'no-template-curly-in-string': 'off' }
  }
]
