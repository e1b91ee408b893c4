/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* letschat-server --config FILE: the command line's options in a
 * GKeyFile, so that a service's settings (and its room secrets, which
 * other users would see in `ps`) live in a file:
 *
 *   [server]
 *   host=0.0.0.0
 *   port=8443
 *   ice-server=stun:stun.example.org:3478;turn://user:pass@turn.example.org:3478
 *
 * One key per long option, built from letschat-server's GOptionEntry
 * table: the value goes where the option's own value would go, before
 * the command line is parsed, so a flag on the command line wins. A list
 * (a repeatable option) is separated by ';' and replaced as a whole by the
 * same option given on the command line. */

#include "letschat-server-config.h"

#include <string.h>

const gchar *
letschat_server_config_find_in_args (gint argc, gchar ** argv)
{
  const gchar *found = NULL;
  gint i;

  for (i = 1; i < argc; i++) {
    if (g_str_equal (argv[i], "--"))
      break;
    if (g_str_has_prefix (argv[i], "--config="))
      found = argv[i] + strlen ("--config=");
    else if (g_str_equal (argv[i], "--config") && i + 1 < argc)
      found = argv[++i];
  }
  return found;
}

static const GOptionEntry *
find_entry (const GOptionEntry * entries, const gchar * key)
{
  for (; entries->long_name; entries++)
    if (g_str_equal (entries->long_name, key))
      return entries;
  return NULL;
}

/* Stores @key's value where @entry's option stores its own. */
static gboolean
store_value (GKeyFile * keyfile, const gchar * file, const GOptionEntry * entry,
    const gchar * key, GError ** error)
{
  const gchar *group = LETSCHAT_SERVER_CONFIG_GROUP;
  g_autoptr (GError) local_error = NULL;
  const gchar *expected = NULL;

  switch (entry->arg) {
    case G_OPTION_ARG_NONE:{
      gboolean value = g_key_file_get_boolean (keyfile, group, key,
          &local_error);

      if (local_error == NULL)
        *(gboolean *) entry->arg_data = value;
      expected = "true or false";
      break;
    }
    case G_OPTION_ARG_INT:{
      gint value = g_key_file_get_integer (keyfile, group, key, &local_error);

      if (local_error == NULL)
        *(gint *) entry->arg_data = value;
      expected = "a whole number";
      break;
    }
    case G_OPTION_ARG_INT64:{
      gint64 value = g_key_file_get_int64 (keyfile, group, key, &local_error);

      if (local_error == NULL)
        *(gint64 *) entry->arg_data = value;
      expected = "a whole number";
      break;
    }
    case G_OPTION_ARG_DOUBLE:{
      gdouble value = g_key_file_get_double (keyfile, group, key,
          &local_error);

      if (local_error == NULL)
        *(gdouble *) entry->arg_data = value;
      expected = "a number";
      break;
    }
    case G_OPTION_ARG_STRING:
    case G_OPTION_ARG_FILENAME:{
      gchar *value = g_key_file_get_string (keyfile, group, key,
          &local_error);

      if (local_error == NULL) {
        g_free (*(gchar **) entry->arg_data);
        *(gchar **) entry->arg_data = value;
      }
      expected = "a string";
      break;
    }
    case G_OPTION_ARG_STRING_ARRAY:
    case G_OPTION_ARG_FILENAME_ARRAY:{
      gchar **value = g_key_file_get_string_list (keyfile, group, key, NULL,
          &local_error);

      if (local_error == NULL) {
        g_strfreev (*(gchar ***) entry->arg_data);
        *(gchar ***) entry->arg_data = value;
      }
      expected = "a list of strings separated by ';'";
      break;
    }
    case G_OPTION_ARG_CALLBACK:{
      g_autofree gchar *value = g_key_file_get_string (keyfile, group, key,
          &local_error);
      g_autofree gchar *name = g_strconcat ("--", key, NULL);

      if (local_error == NULL && !((GOptionArgFunc) entry->arg_data) (name,
              value, NULL, &local_error)) {
        g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
            "%s: key \"%s\" in [%s]: %s", file, key, group,
            local_error ? local_error->message : "not a valid value");
        return FALSE;
      }
      expected = "a string";
      break;
    }
  }

  if (local_error) {
    g_autofree gchar *raw = g_key_file_get_value (keyfile, group, key, NULL);

    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
        "%s: key \"%s\" in [%s] must be %s, not \"%s\"", file, key, group,
        expected, raw ? raw : "");
    return FALSE;
  }
  return TRUE;
}

gboolean
letschat_server_config_load (const gchar * file,
    const GOptionEntry * entries, const gchar * const *skip, GError ** error)
{
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;
  g_auto (GStrv) groups = NULL;
  g_auto (GStrv) keys = NULL;
  gchar **p;

  if (!g_key_file_load_from_file (keyfile, file, G_KEY_FILE_NONE, &local_error)) {
    g_set_error (error, local_error->domain, local_error->code,
        "Could not read the configuration file %s: %s", file,
        local_error->message);
    return FALSE;
  }

  groups = g_key_file_get_groups (keyfile, NULL);
  for (p = groups; *p; p++) {
    if (!g_str_equal (*p, LETSCHAT_SERVER_CONFIG_GROUP)) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
          "%s: unknown group [%s]: the options go in [%s]", file, *p,
          LETSCHAT_SERVER_CONFIG_GROUP);
      return FALSE;
    }
  }

  keys = g_key_file_get_keys (keyfile, LETSCHAT_SERVER_CONFIG_GROUP, NULL,
      NULL);
  for (p = keys; p && *p; p++) {
    const GOptionEntry *entry = find_entry (entries, *p);

    if (entry == NULL || (skip && g_strv_contains (skip, *p))) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
          "%s: unknown key \"%s\" in [%s]: the keys are the long options "
          "of letschat-server --help, without the dashes (e.g. port=8443)",
          file, *p, LETSCHAT_SERVER_CONFIG_GROUP);
      return FALSE;
    }
    if (!store_value (keyfile, file, entry, *p, error))
      return FALSE;
  }
  return TRUE;
}
