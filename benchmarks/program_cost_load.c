// The load of benchmarks/program_cost.py: one kind of file syscall, N times
// (open an existing file, open a missing one, create and unlink, rename
// back and forth), in directory DIR. Usage: program_cost_load PHASE DIR N
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s open|failed|unlink|rename DIR N\n", argv[0]);
    return 2;
  }
  const char *phase = argv[1], *dir = argv[2];
  long n = atol(argv[3]);
  char a[512], b[512], miss[512];
  snprintf(a, sizeof a, "%s/some-file-with-a-name", dir);
  snprintf(b, sizeof b, "%s/some-other-file-name", dir);
  snprintf(miss, sizeof miss, "%s/not-here/missing-file", dir);
  close(open(a, O_WRONLY | O_CREAT, 0600));
  for (long i = 0; i < n; i++) {
    if (!strcmp(phase, "open"))
      close(open(a, O_RDONLY));
    else if (!strcmp(phase, "failed"))
      open(miss, O_RDONLY);
    else if (!strcmp(phase, "unlink")) {
      close(open(b, O_WRONLY | O_CREAT, 0600));
      unlink(b);
    } else if (!strcmp(phase, "rename")) {
      rename(a, b);
      rename(b, a);
    }
  }
  return 0;
}
