/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "loadgen-processes.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

gboolean
process_set_parse (ProcessSet * set, const gchar * list)
{
  g_auto (GStrv) parts = NULL;
  gchar **part;

  set->pids = g_array_new (FALSE, FALSE, sizeof (gint));
  if (list == NULL)
    return TRUE;
  parts = g_strsplit (list, ",", -1);
  for (part = parts; *part; part++) {
    gchar *end;
    gint64 pid = g_ascii_strtoll (*part, &end, 10);

    if (end == *part || *end != '\0' || pid <= 0)
      return FALSE;
    g_array_append_val (set->pids, pid);
  }
  return TRUE;
}

void
process_set_clear (ProcessSet * set)
{
  g_clear_pointer (&set->pids, g_array_unref);
}

gint64
process_set_rss_kb (const ProcessSet * set)
{
  gint64 sum = 0;
  guint i;

  for (i = 0; i < set->pids->len; i++) {
    gint64 rss = process_rss_kb (g_array_index (set->pids, gint, i));

    if (rss < 0)
      return -1;
    sum += rss;
  }
  return set->pids->len ? sum : -1;
}

gdouble
process_set_cpu_s (const ProcessSet * set)
{
  gdouble sum = 0;
  guint i;

  for (i = 0; i < set->pids->len; i++) {
    gdouble cpu = process_cpu_s (g_array_index (set->pids, gint, i));

    if (cpu < 0)
      return -1;
    sum += cpu;
  }
  return set->pids->len ? sum : -1;
}

GArray *
process_set_cpu_each (const ProcessSet * set)
{
  GArray *each = g_array_new (FALSE, FALSE, sizeof (gdouble));
  guint i;

  for (i = 0; i < set->pids->len; i++) {
    gdouble cpu = process_cpu_s (g_array_index (set->pids, gint, i));

    g_array_append_val (each, cpu);
  }
  return each;
}

void
process_set_print_rss (const ProcessSet * set, GString * out,
    const gchar * name)
{
  guint i;

  g_string_append_printf (out, "\"%s\": [", name);
  for (i = 0; i < set->pids->len; i++)
    g_string_append_printf (out, "%s%" G_GINT64_FORMAT, i ? ", " : "",
        process_rss_kb (g_array_index (set->pids, gint, i)));
  g_string_append (out, "]");
}

void
process_set_print_cpu_since (const ProcessSet * set, GArray * before,
    GString * out, const gchar * name)
{
  g_autoptr (GArray) now = process_set_cpu_each (set);
  guint i;

  g_string_append_printf (out, "\"%s\": [", name);
  for (i = 0; i < now->len && i < before->len; i++)
    g_string_append_printf (out, "%s%.2f", i ? ", " : "",
        g_array_index (now, gdouble, i) - g_array_index (before, gdouble, i));
  g_string_append (out, "]");
}

gint64
process_rss_kb (gint pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree gchar *text = NULL;
  const gchar *line;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  line = strstr (text, "VmRSS:");
  return line ? g_ascii_strtoll (line + 6, NULL, 10) : -1;
}

/* utime + stime of a process in seconds */
gdouble
process_cpu_s (gint pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree gchar *text = NULL;
  g_auto (GStrv) fields = NULL;
  const gchar *after_name;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  /* the command name may hold spaces: fields count from after ")" */
  after_name = strrchr (text, ')');
  if (after_name == NULL)
    return -1;
  fields = g_strsplit (after_name + 2, " ", 16);
  if (g_strv_length (fields) < 13)
    return -1;
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12],
          NULL)) / sysconf (_SC_CLK_TCK);
}

gdouble
self_cpu_s (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
      (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

gdouble
machine_busy_s (void)
{
  g_autofree gchar *text = NULL;
  gchar *field;
  gdouble busy = 0;
  guint n = 0;

  /* "cpu  user nice system idle iowait irq softirq steal guest guest_nice"
   * in clock ticks; guest time is in user already */
  if (!g_file_get_contents ("/proc/stat", &text, NULL, NULL)
      || !g_str_has_prefix (text, "cpu "))
    return -1;
  field = text + 4;
  while (n < 8) {
    gchar *end;
    gdouble ticks = g_ascii_strtod (field, &end);

    if (end == field)
      break;
    /* the 4th and 5th are idle and iowait */
    if (n != 3 && n != 4)
      busy += ticks;
    field = end;
    n++;
  }
  return busy / sysconf (_SC_CLK_TCK);
}
