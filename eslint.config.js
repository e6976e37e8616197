// ESLint flat config: type-aware rules for src/ and test/ (no-floating-promises matters most in stream code).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Commands reach a repository only through its model (src/repo/): never its driver or its paths.
    files: ['src/command/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[property.name='driver']",
          message: "use Repository, repo.backups or repo.wal (src/repo/), not the repository's driver",
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/repo/layout.js'],
              importNames: ['repoLayout'],
              message: 'repository paths are built in src/repo/ only',
            },
            {
              group: ['**/storage/index.js', '**/storage/posix.js'],
              message: 'open a repository with Repository.open (src/repo/repository.ts)',
            },
          ],
        },
      ],
    },
  },
);
