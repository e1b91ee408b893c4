/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The ladder (see the header): what size and frame rate the encoder gets.
 *
 *   videoscale -> videorate drop-only -> capsfilter -> vp8enc/vp9enc -> ...
 *                                           ^ caps       |  sink/src probes
 *                                           |            v  (the streaming
 *                                           +---------- thread): frames in,
 *                                                       out, VP8 quantizer;
 *   gst_lets_chat_ladder_update (bitrate)   a step chosen is applied at the
 *     session thread: judges a window,      next frame; each keyframe
 *     chooses a step                        judged, too large: dropped,
 *                                           size down at once
 *
 * Two things choose the step:
 * - the target bitrate: below each step's bitrate, a smaller picture (about
 *   0.05 to 0.1 bit per pixel, what VP8 needs to show an ordinary moving
 *   picture without mush);
 * - the picture itself: a busy one (a camera's noise, snow, confetti)
 *   costs many times more bits than an ordinary one of the same size, and
 *   at the worst quantizer the encoder still makes more than it was asked
 *   for: 1280x720 snow came out at 24 Mbit/s for 300 kbit/s asked. Then
 *   the encoder's rate control drops frames (dropframe-threshold), or the
 *   link does, and the call freezes. So when, over a second, the encoder
 *   dropped more than a few frames, or VP8's quantizer stayed near its
 *   worst, the picture goes one step further down than the bitrate says;
 *   and back up one step when a later second shows room (a low
 *   quantizer, nothing dropped), waiting twice as long each time going up
 *   did not hold. Like the quality scaler of browsers' WebRTC, which reads
 *   the quantizer to the same end. A cheap picture (a slide, a ball on
 *   black) goes the other way: one that makes its encoder use so little
 *   of the bitrate at a low quantizer that a larger one would still fit
 *   goes a step above what the bitrate says, a step each second, as long
 *   as its keyframe would fit too, and back to the bitrate's step once
 *   it uses more than 90 % (else a call that
 *   starts low stays small: its target grows with what arrives, and a
 *   cheap picture sends a fraction of it). A keyframe tells sooner than
 *   a second of frames: one that costs more than KEYFRAME_TOO_LARGE_S of
 *   the bitrate takes the picture down at once, as far as its bits per
 *   pixel say a keyframe fits in KEYFRAME_FITS_S (the encoder drops
 *   every frame while it pays one off: a call's first keyframe of 720p
 *   snow, 0.8 Mbit at 1 Mbit/s, was followed by 0.6 s without a frame).
 *   That is judged as the keyframe comes out of the encoder, and the
 *   keyframe is dropped there, never sent: the new size's own keyframe
 *   follows within a frame or two.
 * Going down is at once; going up waits for 25 % more than the step needs,
 * and for 100 % more once going up for the bitrate was undone within 10 s
 * (until a step up holds 10 s): a target that hovers around a step's
 * bitrate (a congestion controller probing a 600 kbit/s link goes between
 * 330 and 450 kbit/s) otherwise flips the picture between two sizes every
 * 2 to 3 s, each larger picture's keyframe filling the link again (4 to 29
 * freezes a minute in 5 runs of 8 at 600 kbit/s, bench/network.py rate).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/codecparsers/gstvp8parser.h>
#include <gst/video/video.h>

#include "gstletschatladder.h"
#include "gstletschatcodecs.h"
#include "gstletschatkeyframerequests.h"
#include "gstletschatcongestion.h"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_ladder_debug);
#define GST_CAT_DEFAULT gst_lets_chat_ladder_debug

static const struct
{
  guint bitrate;                /* at or above this */
  gint max_width;               /* 0: the input's */
  gint max_fps;                 /* 0: the input's */
} ladder[] = {
  {1000000, 0, 0},
  {600000, 960, 0},
  {350000, 640, 0},
  {200000, 480, 0},
  {120000, 320, 0},
  {80000, 240, 0},
  {50000, 160, 0},
  {0, 160, 15},
};

#define LAST_RUNG (G_N_ELEMENTS (ladder) - 1)
#define UP_MARGIN 1.25
/* Once going up for the bitrate was undone: a second try at 50 % over
 * the step's bitrate failed at 600 kbit/s as the first at 25 % had, in
 * every run where it was made. */
#define UP_MARGIN_AFTER_FAILURE 2.0
#define STATE_KEY "letschat-ladder-state"

/* A second of what the encoder did decides. */
#define WINDOW_US G_USEC_PER_SEC
/* Dropped by the encoder's rate control, in a window: too busy. */
#define DROPPED_TOO_MANY 0.15
#define DROPPED_NONE 0.05
/* VP8's quantizer index (0 to 127): near its worst the picture does not
 * fit; low, there is room for a larger one. Room is where browsers' WebRTC
 * (its quality scaler's low VP8 QP threshold) sees it: at 70, 320x180 snow
 * at qi 61 to 67 went up to 480x270, which the 4 Mbit/s link did not take
 * (6.5 Mbit/s sent at qi 122, a storm of keyframe requests, 1.2 s frozen,
 * twice a run). */
#define QI_TOO_HIGH 110
#define QI_ROOM 29
/* A cheap picture (a slide, a still room, a ball on black): at a low
 * quantizer its encoder makes so little of the bitrate between keyframes
 * that the next step's picture, at as many bits per pixel, would take
 * less than CHEAP of it: it goes one step above what the bitrate says
 * (and again a second later while that holds); and back to the
 * bitrate's step once it costs more than CHEAP_NO_MORE. Keyframes are
 * not counted: a window of a second has a periodic keyframe or not, and
 * the first after a step up has the new size's. Nor is the quantizer
 * read for going back: in the window after each step up a ball's went
 * from 5 to 31 to 64 as the new size's keyframe was paid off, and then
 * down again. Without it a call that starts low stays small: the target
 * grows to no more than 1.5 times what arrives plus 100 kbit/s, and a
 * cheap picture sends a fraction of its target. */
#define CHEAP 0.7
#define CHEAP_NO_MORE 0.9
/* A keyframe that costs more than this much of the bitrate's second: the
 * picture does not fit, for the encoder made it larger than libvpx's
 * max-intra-bitrate (900 % of a frame's share: 0.3 s at 30 fps) even at
 * its worst quantizer. Going down takes it to where one would cost at
 * most KEYFRAME_FITS_S at the same bits per pixel. */
#define KEYFRAME_TOO_LARGE_S 0.5
#define KEYFRAME_FITS_S 0.4
#define KEYFRAME_UP_FITS_S 0.2
/* Going back up waits this long after going down, doubled each time the
 * step up had to be undone within UP_HELD_US. */
#define UP_WAIT_US (4 * G_USEC_PER_SEC)
#define UP_WAIT_MAX_US (64 * G_USEC_PER_SEC)
#define UP_HELD_US (10 * G_USEC_PER_SEC)

typedef struct
{
  /* Held by the session thread's decisions and by the encoder's threads,
   * which count what it made and judge its keyframes at once. */
  GMutex lock;
  /* since the last decision */
  guint frames_in, frames_out;
  guint64 qi_sum;
  guint qi_frames;
  GstVp8Parser parser;          /* the encoder's src thread only */
  gboolean until_keyframe;      /* its output dropped until its next one */
  gboolean pending;             /* a decision chose another step */

  guint bitrate;                /* the last one given, 0: none yet */
  guint rung;                   /* what the capsfilter has */
  gint input_width, input_height;       /* what its caps were made for */
  /* Steps below (a busy picture) or above (a cheap one) what the bitrate
   * says. */
  gint offset;
  guint64 bits_out;             /* since the last decision, but keyframes */
  gdouble keyframe_cost;        /* the last keyframe's bits per pixel */
  gint64 window_start_us, last_down_us, last_up_us, up_wait_us;
  guint by_bitrate;             /* the step the bitrate chose last */
  gint64 bitrate_up_us;         /* when it went up, 0: held or none */
  gboolean up_failed;           /* it went back down after going up */
} Ladder;

static void
ladder_clear (gpointer data)
{
  Ladder *l = data;

  g_mutex_clear (&l->lock);
}

static void
ladder_unref (gpointer data)
{
  g_atomic_rc_box_release_full (data, ladder_clear);
}

/* @element's upstream neighbour (a new ref), or NULL. */
static GstElement *
upstream_of (GstElement * element)
{
  GstPad *sink = gst_element_get_static_pad (element, "sink");
  GstPad *peer = sink ? gst_pad_get_peer (sink) : NULL;
  GstElement *up = peer ? gst_pad_get_parent_element (peer) : NULL;

  gst_clear_object (&peer);
  gst_clear_object (&sink);
  return up;
}

/* The ladder's capsfilter in front of @encoder (a new ref; NULL where it
 * has none) and the size of the input videoscale takes (0 x 0 while it
 * has none). */
static GstElement *
ladder_filter (GstElement * encoder, gint * width, gint * height)
{
  GstElement *filter = upstream_of (encoder), *rate = NULL, *scale = NULL;
  GstPad *input_pad = NULL;
  GstCaps *input = NULL;
  GstStructure *s;

  *width = *height = 0;
  if (!filter || !g_object_get_data (G_OBJECT (filter),
          GST_LETS_CHAT_LADDER_KEY)) {
    gst_clear_object (&filter);
    return NULL;
  }
  rate = upstream_of (filter);
  scale = rate ? upstream_of (rate) : NULL;
  input_pad = scale ? gst_element_get_static_pad (scale, "sink") : NULL;
  input = input_pad ? gst_pad_get_current_caps (input_pad) : NULL;
  s = input ? gst_caps_get_structure (input, 0) : NULL;
  if (!s || !gst_structure_get_int (s, "width", width)
      || !gst_structure_get_int (s, "height", height) || *width <= 0
      || *height <= 0)
    *width = *height = 0;
  gst_clear_caps (&input);
  gst_clear_object (&input_pad);
  gst_clear_object (&scale);
  gst_clear_object (&rate);
  return filter;
}

static guint
rung_for_bitrate (guint bitrate, guint current, gboolean up_failed)
{
  gdouble margin = up_failed ? UP_MARGIN_AFTER_FAILURE : UP_MARGIN;
  guint r;

  for (r = 0; r < LAST_RUNG; r++) {
    gdouble needed = ladder[r].bitrate * (r < current ? margin : 1);

    if (bitrate >= needed)
      return r;
  }
  return LAST_RUNG;
}

/* The pixels of @rung's picture, given the input's @width x @height. */
static gint64
rung_pixels (guint rung, gint width, gint height)
{
  gint rung_width = ladder[rung].max_width;

  if (rung_width && rung_width < width)
    return (gint64) rung_width *(((gint64) height * rung_width / width) & ~1);
  return (gint64) width *height;
}

/* Would a keyframe of the picture at @rung, at @cost bits per pixel, take
 * at most @seconds of @bitrate? */
static gboolean
keyframe_fits (gdouble cost, guint rung, gdouble seconds, guint bitrate,
    gint width, gint height)
{
  return cost * rung_pixels (rung, width, height) <= seconds * bitrate;
}

/* The step the bitrate and the picture's cost now say: the last step is
 * the bitrate's alone. */
static guint
wanted_rung (Ladder * l)
{
  gint rung = (gint) l->by_bitrate + l->offset;

  if (l->by_bitrate == LAST_RUNG)
    return LAST_RUNG;
  return CLAMP (rung, 0, (gint) LAST_RUNG - 1);
}

/* The picture went down for its cost: when going up did not hold, wait
 * longer before the next try. */
static void
note_down_for_cost (Ladder * l, gint64 now)
{
  if (l->last_up_us && now - l->last_up_us < UP_HELD_US)
    l->up_wait_us = MIN (l->up_wait_us * 2, UP_WAIT_MAX_US);
  l->last_down_us = now;
}

/* The picture went down for its busyness. */
static void
note_down (Ladder * l, gint64 now)
{
  note_down_for_cost (l, now);
  /* Nor did going up for the bitrate, if that was the last step up. */
  if (l->bitrate_up_us && now - l->bitrate_up_us < UP_HELD_US) {
    l->up_failed = TRUE;
    l->bitrate_up_us = 0;
  }
}

/* A keyframe of @bits at @pixels came out: when it cost far more than the
 * bitrate allows, take the picture down to where one would fit at its
 * bits per pixel, rather than let the encoder drop every frame while it
 * pays it off and wait a window to see that. The ladder's lock is held. */
static void
judge_keyframe (Ladder * l, guint64 bits, gint pixels, gint width,
    gint height, gint64 now)
{
  guint rung, r;
  gdouble cost;

  if (!bits || pixels <= 0 || !l->bitrate || width <= 0 || height <= 0
      || l->by_bitrate >= LAST_RUNG)
    return;
  cost = (gdouble) bits / pixels;
  GST_DEBUG ("a keyframe of %" G_GUINT64_FORMAT " bits at %d pixels: %.2f s "
      "of %u bit/s", bits, pixels, (gdouble) bits / l->bitrate, l->bitrate);
  l->keyframe_cost = cost;
  rung = wanted_rung (l);
  if (bits <= KEYFRAME_TOO_LARGE_S * l->bitrate || rung >= LAST_RUNG - 1)
    return;
  /* It may be a larger picture's, from before the last step down. */
  for (r = rung; r < LAST_RUNG - 1 && !keyframe_fits (cost, r,
          KEYFRAME_FITS_S, l->bitrate, width, height); r++);
  if (r == rung)
    return;
  l->offset = (gint) r - (gint) l->by_bitrate;
  note_down (l, now);
  GST_INFO ("a keyframe of %" G_GUINT64_FORMAT " bits at %d pixels is %.1f "
      "s of %u bit/s: %d step(s) from the bitrate's", bits, pixels,
      (gdouble) bits / l->bitrate, l->bitrate, l->offset);
}

/* A new window from @now: what the encoder makes from here on. */
static void
window_restart (Ladder * l, gint64 now)
{
  l->frames_in = l->frames_out = l->qi_frames = 0;
  l->qi_sum = l->bits_out = 0;
  l->window_start_us = now;
}

/* Over the last window: is the picture too busy for its size, or is there
 * room for a larger one? Moves l->offset. The ladder's lock is held. */
static void
judge_window (Ladder * l, gint64 now, gint width, gint height)
{
  gdouble dropped, qi, used, growth;
  guint rung = wanted_rung (l);
  gboolean room;

  if (l->frames_in < 5 || now <= l->window_start_us || !l->bitrate)
    goto out;
  dropped = l->frames_out < l->frames_in ?
      1.0 - (gdouble) l->frames_out / l->frames_in : 0;
  qi = l->qi_frames ? (gdouble) l->qi_sum / l->qi_frames : -1;
  /* The share of the bitrate the encoder made. */
  used = l->bits_out * (gdouble) G_USEC_PER_SEC / (now - l->window_start_us)
      / l->bitrate;
  room = dropped < DROPPED_NONE && qi >= 0 && qi < QI_ROOM
      && now - l->last_down_us > l->up_wait_us;
  /* How many times the pixels of the step above (1: none larger). */
  growth = rung > 0 && rung < LAST_RUNG && width > 0 && height > 0 ?
      (gdouble) rung_pixels (rung - 1, width, height) / rung_pixels (rung,
      width, height) : 1;

  /* The picture's busyness takes away size, never frame rate (the last
   * step is the bitrate's alone): at the smallest size the encoder drops
   * what it must by itself. */
  if ((dropped > DROPPED_TOO_MANY || qi > QI_TOO_HIGH)
      && rung < LAST_RUNG - 1) {
    /* Most frames dropped: the picture is far too large, skip steps
     * (1280x720 snow kept 3 % of its frames at 1 Mbit/s). A cheap picture
     * that no longer is goes to the bitrate's step: the encoder drops
     * frames while it pays off the keyframe of a step up, too. */
    if (l->offset < 0)
      l->offset = 0;
    else
      l->offset = MIN (l->offset + (dropped > 0.8 ? 3 : dropped > 0.5 ?
              2 : 1), (gint) (LAST_RUNG - 1 - l->by_bitrate));
    note_down (l, now);
    GST_INFO ("a busy picture (%.0f %% of frames dropped, quantizer %.0f): "
        "%d step(s) below the bitrate's", dropped * 100, qi, l->offset);
  } else if (l->offset < 0 && used > CHEAP_NO_MORE) {
    l->offset = 0;
    note_down_for_cost (l, now);
    GST_INFO ("no longer a cheap picture (%.0f %% of the bitrate, quantizer "
        "%.0f): the bitrate's step", used * 100, qi);
  } else if (room && l->offset > 0) {
    l->offset--;
    l->last_up_us = now;
    GST_INFO ("room for a larger picture (quantizer %.0f): %d step(s) "
        "below the bitrate's", qi, l->offset);
  } else if (room && growth > 1 && used * growth < CHEAP
      && l->keyframe_cost > 0 && keyframe_fits (l->keyframe_cost, rung - 1,
          KEYFRAME_UP_FITS_S, l->bitrate, width, height)) {
    l->offset--;
    l->last_up_us = now;
    GST_INFO ("a cheap picture (%.0f %% of the bitrate, quantizer %.0f): %d "
        "step(s) above the bitrate's", used * 100, qi, -l->offset);
  } else {
    GST_LOG ("%.0f %% of frames dropped, quantizer %.0f, %.0f %% of the "
        "bitrate", dropped * 100, qi, used * 100);
  }
out:
  window_restart (l, now);
}

/* The bitrate's step went up under a busy picture: its step goes up with
 * it only as far as a keyframe would take at most KEYFRAME_UP_FITS_S of
 * the bitrate, foreseen from the last keyframe's bits per pixel; further
 * up only when the quantizer shows room (judge_window()). A keyframe
 * that takes longer than that to cross the path is a freeze for the
 * other party: 160x90 snow at a 600 kbit/s link's target of 440 kbit/s
 * went up to 240x134, whose first keyframe, 168 kbit, froze the call for
 * 0.3 s at its start, and filled the link's queue. The ladder's lock is
 * held. */
static void
hold_busy_picture (Ladder * l, guint was_rung, gint width, gint height)
{
  guint r, rung = wanted_rung (l);

  if (l->offset <= 0 || rung >= was_rung || l->keyframe_cost <= 0
      || width <= 0 || height <= 0)
    return;
  for (r = rung; r < was_rung && !keyframe_fits (l->keyframe_cost, r,
          KEYFRAME_UP_FITS_S, l->bitrate, width, height); r++);
  if (r == rung)
    return;
  l->offset = (gint) r - (gint) l->by_bitrate;
  GST_INFO ("%u bit/s: a busy picture stays %d step(s) below the bitrate's "
      "(a keyframe at %.1f bit per pixel would not fit)", l->bitrate,
      l->offset, l->keyframe_cost);
}

/* Half a window is enough to see that most frames are dropped: every
 * frame waited for then is a frame the call does not show. */
static gboolean
mostly_dropped (Ladder * l)
{
  return l->frames_in >= 5 && l->frames_out * 2 < l->frames_in;
}

/* The capsfilter's caps for @rung, given the input's @width x @height. */
static GstCaps *
caps_for_rung (guint rung, gint width, gint height)
{
  GstCaps *caps = gst_caps_new_empty_simple ("video/x-raw");
  gint rung_width = ladder[rung].max_width;

  if (rung_width && rung_width < width)
    gst_caps_set_simple (caps, "width", G_TYPE_INT, rung_width, "height",
        G_TYPE_INT, (gint) ((gint64) height * rung_width / width) & ~1,
        "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
  if (ladder[rung].max_fps)
    gst_caps_set_simple (caps, "framerate", GST_TYPE_FRACTION_RANGE, 0, 1,
        ladder[rung].max_fps, 1, NULL);
  return caps;
}

/* Gives @filter the step the bitrate and the picture's cost now say; TRUE
 * when that changed it. The encoder's threads only, the ladder's lock
 * held: the caps go upstream as a reconfigure event, which takes no
 * streaming lock. */
static gboolean
apply_rung (Ladder * l, GstElement * filter, gint width, gint height,
    gint64 now)
{
  guint rung = wanted_rung (l);
  GstCaps *caps;

  l->pending = FALSE;
  if (width <= 0 || (rung == l->rung && width == l->input_width
          && height == l->input_height))
    return FALSE;
  caps = caps_for_rung (rung, width, height);
  GST_INFO ("%u bit/s: step %u of the ladder (%u for the bitrate), %"
      GST_PTR_FORMAT, l->bitrate, rung, l->by_bitrate, caps);
  g_object_set (filter, "caps", caps, NULL);
  gst_caps_unref (caps);
  l->rung = rung;
  l->input_width = width;
  l->input_height = height;
  /* The next window starts with the new size (and its keyframe). */
  window_restart (l, now);
  return TRUE;
}

/* The encoder's sink thread, the one that goes through the capsfilter:
 * one frame in, and the step a decision chose applied before the next.
 * Set from the session thread, the capsfilter's caps changed while this
 * thread was taking a frame through videoscale to the capsfilter at the
 * size of before, which the capsfilter then refused: not-negotiated, the
 * sender's pipeline stopped with "Internal data stream error" (once, as a
 * call's first decision came 3 ms after a keyframe had taken the picture
 * down here). */
static GstPadProbeReturn
on_encoder_input (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Ladder *l = data;
  GstElement *encoder, *filter;
  gboolean pending;
  gint width, height;

  g_mutex_lock (&l->lock);
  l->frames_in++;
  pending = l->pending;
  g_mutex_unlock (&l->lock);
  if (!pending)
    return GST_PAD_PROBE_OK;
  encoder = gst_pad_get_parent_element (pad);
  filter = encoder ? ladder_filter (encoder, &width, &height) : NULL;
  if (filter) {
    g_mutex_lock (&l->lock);
    apply_rung (l, filter, width, height, g_get_monotonic_time ());
    g_mutex_unlock (&l->lock);
  }
  gst_clear_object (&filter);
  gst_clear_object (&encoder);
  return GST_PAD_PROBE_OK;
}

/* The encoder's src thread: a keyframe that costs far more than the
 * bitrate allows takes the picture down here, before it is sent (waiting
 * for the next decision sent it: 0.8 Mbit of a call's first 720p snow
 * keyframe into a 600 kbit/s path, then the encoder dropped every frame
 * for 0.6 s while it paid it off, then the smaller picture's keyframe);
 * so does one larger than the step the bitrate now wants, or than the
 * capsfilter asks for (encoded before a step down took effect).
 * It is dropped, and so is what the encoder makes until its next
 * keyframe, the new size's first frame (asked for as well, should the
 * size change not make one). TRUE when @buffer is to be dropped. */
static gboolean
keyframe_taken_down (Ladder * l, GstPad * pad, GstBuffer * buffer, gint
    keyframe_width, gint keyframe_height)
{
  GstElement *encoder = gst_pad_get_parent_element (pad);
  GstElement *filter = NULL;
  gint width = 0, height = 0;
  gint64 now = g_get_monotonic_time ();
  guint64 bits = gst_buffer_get_size (buffer) * 8;
  gboolean down = FALSE;

  filter = encoder ? ladder_filter (encoder, &width, &height) : NULL;
  if (!filter)
    goto out;
  g_mutex_lock (&l->lock);
  /* Before the first decision (a call's first keyframe comes out at
   * once), the bitrate the encoder was made with is the one it has. */
  if (!l->bitrate) {
    l->bitrate = gst_lets_chat_congestion_get_encoder_bitrate (encoder);
    l->by_bitrate = rung_for_bitrate (l->bitrate, 0, FALSE);
  }
  /* The input changed size since the capsfilter's caps were made: they
   * are made again for it, and this keyframe, of the caps' size, goes
   * out. (Judged against the new input, a 1280x720 input that became
   * 320x180 under 480x270 caps had every keyframe, 480x270 as videoscale
   * kept making it, taken for a larger picture's and dropped, and the
   * call froze for good.) */
  if (l->input_width && (width != l->input_width || height != l->input_height)) {
    GST_INFO ("the input is %dx%d now, was %dx%d", width, height,
        l->input_width, l->input_height);
    apply_rung (l, filter, width, height, now);
    goto unlock;
  }
  /* A keyframe of a larger picture than the capsfilter now asks for was
   * encoded before the step down took effect: the new size's keyframe
   * follows at its first frame. (A call's first decision chose 480x270 for
   * 720p snow at 300 kbit/s while the first 720p keyframe, 2.8 s of that
   * bitrate, was being encoded; it fitted the new step's size and went
   * out.) */
  if ((gint64) keyframe_width * keyframe_height > rung_pixels (l->rung, width,
          height)) {
    down = TRUE;
  } else {
    judge_keyframe (l, bits, keyframe_width * keyframe_height, width, height,
        now);
    /* A smaller picture than this keyframe's is wanted: for its cost, just
     * judged, or for the bitrate, not applied yet. A call's first keyframe
     * comes before the first decision: at a start-bitrate of 300 kbit/s,
     * a 720p keyframe went out although the bitrate's step was 480x270,
     * which it would have fitted at its bits per pixel. */
    if ((gint64) keyframe_width * keyframe_height >
        rung_pixels (wanted_rung (l), width, height)) {
      apply_rung (l, filter, width, height, now);
      down = TRUE;
    }
  }
  if (down)
    l->until_keyframe = TRUE;
unlock:
  g_mutex_unlock (&l->lock);
  if (down)
    gst_pad_send_event (pad, gst_lets_chat_keyframe_request_new ());
out:
  gst_clear_object (&filter);
  gst_clear_object (&encoder);
  return down;
}

/* The encoder's src thread: one encoded frame. */
static GstPadProbeReturn
on_encoder_output (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Ladder *l = data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstVp8FrameHdr header;
  GstMapInfo map;
  gint qi = -1, width = 0, height = 0;
  gboolean keyframe = !GST_BUFFER_FLAG_IS_SET (buffer,
      GST_BUFFER_FLAG_DELTA_UNIT), drop;

  if (gst_pad_has_current_caps (pad)) {
    GstCaps *caps = gst_pad_get_current_caps (pad);
    GstStructure *s = gst_caps_get_structure (caps, 0);

    gst_structure_get_int (s, "width", &width);
    gst_structure_get_int (s, "height", &height);
    if (gst_structure_has_name (s, "video/x-vp8")
        && gst_buffer_map (buffer, &map, GST_MAP_READ)) {
      if (gst_vp8_parser_parse_frame_header (&l->parser, &header, map.data,
              map.size) == GST_VP8_PARSER_OK)
        qi = header.quant_indices.y_ac_qi;
      gst_buffer_unmap (buffer, &map);
    }
    gst_caps_unref (caps);
  }
  g_mutex_lock (&l->lock);
  l->frames_out++;
  if (!keyframe)
    l->bits_out += gst_buffer_get_size (buffer) * 8;
  if (qi >= 0) {
    l->qi_sum += qi;
    l->qi_frames++;
  }
  if (keyframe)
    l->until_keyframe = FALSE;
  drop = l->until_keyframe;
  g_mutex_unlock (&l->lock);
  if (keyframe && width > 0 && height > 0)
    drop = keyframe_taken_down (l, pad, buffer, width, height);
  if (drop)
    GST_DEBUG ("dropped a %s of the larger picture",
        keyframe ? "keyframe" : "frame");
  return drop ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

static void
watch_encoder (GstElement * encoder, Ladder * l)
{
  GstPad *sink = gst_element_get_static_pad (encoder, "sink");
  GstPad *src = gst_element_get_static_pad (encoder, "src");

  if (sink)
    gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER, on_encoder_input,
        g_atomic_rc_box_acquire (l), ladder_unref);
  if (src)
    gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, on_encoder_output,
        g_atomic_rc_box_acquire (l), ladder_unref);
  gst_clear_object (&sink);
  gst_clear_object (&src);
}

/* @encoder's ladder state, made and watching the encoder on first use. */
static Ladder *
ladder_of (GstElement * encoder)
{
  Ladder *l = g_object_get_data (G_OBJECT (encoder), STATE_KEY);
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_lets_chat_ladder_debug, "letschatladder", 0,
        "letschat picture size and frame rate under congestion");
    g_once_init_leave (&done, 1);
  }
  if (!l) {
    l = g_atomic_rc_box_new0 (Ladder);
    g_mutex_init (&l->lock);
    gst_vp8_parser_init (&l->parser);
    l->up_wait_us = UP_WAIT_US;
    l->window_start_us = g_get_monotonic_time ();
    g_object_set_data_full (G_OBJECT (encoder), STATE_KEY, l, ladder_unref);
    watch_encoder (encoder, l);
  }
  return l;
}

void
gst_lets_chat_ladder_watch (GstElement * encoder)
{
  ladder_of (encoder);
}

gboolean
gst_lets_chat_ladder_update (GstElement * encoder, guint bitrate)
{
  gboolean grew = FALSE;
  gint width, height;
  guint by_bitrate, rung, was_by_bitrate, was_rung;
  gint64 now = g_get_monotonic_time ();
  GstElement *filter = ladder_filter (encoder, &width, &height);
  Ladder *l;

  if (!filter)
    return FALSE;
  l = ladder_of (encoder);

  g_mutex_lock (&l->lock);
  by_bitrate = rung_for_bitrate (bitrate, l->by_bitrate, l->up_failed);
  if (by_bitrate < l->by_bitrate) {
    l->bitrate_up_us = now;
  } else if (by_bitrate > l->by_bitrate && l->bitrate_up_us) {
    l->up_failed = TRUE;
    l->bitrate_up_us = 0;
    GST_INFO ("going up did not hold: %.0f %% over a step's bitrate to go "
        "up", (UP_MARGIN_AFTER_FAILURE - 1) * 100);
  } else if (l->bitrate_up_us && now - l->bitrate_up_us >= UP_HELD_US) {
    l->up_failed = FALSE;
    l->bitrate_up_us = 0;
  }
  was_by_bitrate = l->by_bitrate;
  was_rung = wanted_rung (l);
  l->by_bitrate = by_bitrate;
  l->bitrate = bitrate;
  /* The offset within the ladder: one that went past its end as the
   * bitrate's step moved (a cheap picture 3 steps above at 300 kbit/s,
   * then at 1 Mbit/s, the first step) would otherwise carry the picture
   * that far above when the bitrate falls again, unjudged. The last step
   * is the bitrate's alone: there the offset waits. */
  if (by_bitrate < LAST_RUNG)
    l->offset = (gint) wanted_rung (l) - (gint) by_bitrate;
  if (by_bitrate < was_by_bitrate)
    hold_busy_picture (l, was_rung, width, height);

  /* (Keyframes are judged as they come out, on_encoder_output().) */
  if (now - l->window_start_us >= WINDOW_US
      || (now - l->window_start_us >= WINDOW_US / 2 && mostly_dropped (l)))
    judge_window (l, now, width, height);
  /* Applied at the next frame, by the thread that takes it through the
   * capsfilter (on_encoder_input()). */
  rung = wanted_rung (l);
  if (rung != l->rung && width > 0) {
    l->pending = TRUE;
    grew = rung < l->rung;
  }
  g_mutex_unlock (&l->lock);
  gst_object_unref (filter);
  return grew;
}
