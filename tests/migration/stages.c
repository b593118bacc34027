/*
 * The C answer of the dual-write cutover proof
 * (flags-server/tests/migration_prometheus.rs): the stage of a migration
 * flag for each user id, through the C ABI (flags-ffi/include/flags.h),
 * printed as one JSON object {"<user id>": "<stage>", ...}. A flag that is
 * not found (no variant) prints "off", as docs/migrations.md says callers
 * treat it.
 *
 *   stages FILE FLAG USER_ID...
 *
 * Exits 1 with the library's message on any error. User ids are plain
 * digits in the proof, so they need no JSON escaping; anything else is
 * refused.
 */
#include <stdio.h>
#include <string.h>

#include "flags.h"

static int fail(const char *what, int32_t code, char *error) {
  fprintf(stderr, "stages: %s: %s%s%s\n", what, flags_result_message(code),
          error ? ": " : "", error ? error : "");
  flags_string_free(error);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s FILE FLAG USER_ID...\n", argv[0]);
    return 2;
  }
  const char *path = argv[1], *flag = argv[2];
  struct flags_source *source = NULL;
  char *error = NULL;
  int32_t code = flags_source_open_file(path, strlen(path), 0, &source, &error);
  if (code != FLAGS_OK) return fail(path, code, error);

  int status = 0;
  printf("{");
  for (int i = 3; i < argc && status == 0; i++) {
    const char *user = argv[i];
    if (user[0] == '\0' || strspn(user, "0123456789") != strlen(user)) {
      fprintf(stderr, "stages: user ids are digits here, not \"%s\"\n", user);
      status = 2;
      break;
    }
    struct flags_context *ctx = flags_context_new();
    code = flags_context_set(ctx, "user_id", 7, user, strlen(user));
    struct flags_evaluation result = {0};
    if (code == FLAGS_OK) code = flags_evaluate(source, flag, strlen(flag), ctx, &result);
    flags_context_free(ctx);
    if (code != FLAGS_OK) {
      status = fail(user, code, NULL);
      break;
    }
    printf("%s\"%s\":\"%s\"", i > 3 ? "," : "", user, result.variant ? result.variant : "off");
    flags_evaluation_clear(&result);
  }
  printf("}\n");
  flags_source_free(source);
  return status;
}
