/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Runs every file in the directories given through the fuzz target, as a
 * normal test: the seed corpus and each crash the fuzzer ever found
 * (tests/fuzz/crashes/) stay fixed. A crash aborts; TAP output otherwise. */

#include <glib.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
main (int argc, char **argv)
{
  guint n = 0;
  int i;

  for (i = 1; i < argc; i++) {
    g_autoptr (GDir) dir = g_dir_open (argv[i], 0, NULL);
    const gchar *name;

    while (dir && (name = g_dir_read_name (dir))) {
      g_autofree gchar *path = g_build_filename (argv[i], name, NULL);
      g_autofree gchar *contents = NULL;
      gsize len;

      if (g_str_has_prefix (name, ".")
          || !g_file_get_contents (path, &contents, &len, NULL))
        continue;
      LLVMFuzzerTestOneInput ((const uint8_t *) contents, len);
      g_print ("ok %u %s\n", ++n, path);
    }
  }
  g_print ("1..%u\n", n);
  return n > 0 ? 0 : 1;
}
