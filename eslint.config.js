// ESLint (flat config): typescript-eslint's recommended rules and React's hooks rules, with
// zero warnings allowed (`npm run lint`). Layering is checked by dependency-cruiser
// (.dependency-cruiser.cjs), formatting by Prettier on the files in .prettier-files.
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-results/', 'playwright-report/', 'public/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // The codebase writes a two-statement loop body as one comma sequence, `(a(), b())`.
      '@typescript-eslint/no-unused-expressions': 'off',
      // Names and paths are checked for control characters on purpose (io/hub.ts).
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.{js,cjs,mjs}'],
    languageOptions: { globals: { module: 'writable', require: 'readonly', process: 'readonly', console: 'readonly' } },
  },
);
