// A pion party of a letschat room, for tests/interop/run.mjs: a WebRTC stack
// we do not control (Go's pion/webrtc v3, from Debian's
// golang-github-pion-webrtc.v3-dev), written only from docs/protocol.md, as
// a third-party developer would write it, with pion's defaults: its BUNDLE
// policy (balanced), its default codecs, header extensions and interceptors
// (NACK, RTCP reports, TWCC), its trickle ICE. It does not work around
// letschat's bugs: finding them is the point.
//
//	pion-party --url ws://127.0.0.1:PORT/ws --room ROOM --codec vp8|h264 \
//	           --send 0|1 --recv 0|1 [--name NAME]
//
// The contract (shared with aiortc-party.py, werift-party.mjs and
// chromium-party.mjs), one event a line on stdout:
//
//	joined <id> | peer <peer-id> | offering | answering | connection <state>
//	recv-frames <N> (every 0.5 s while N grows) | recv-codec <mime>
//	error <text> | hungup
//
// stdin: "hangup" or EOF closes the peer connection and the WebSocket,
// prints "hungup" and exits 0. SIGTERM (and SIGINT): exit at once, closing
// nothing (only the encoder child is stopped, or it would outlive us).
// Diagnostics (the SDPs, candidates, pion's own warnings, such as "Incoming
// unhandled RTP ssrc(...), OnTrack will not be fired") go to stderr;
// PION_LOG_DEBUG=all (or =ice,pc,...) shows more of pion's log.
//
// pion has no codecs. Sending, a gst-launch-1.0 child encodes a moving test
// picture and a tick sound into RTP on two local UDP ports, and each packet
// goes into a TrackLocalStaticRTP (pion's own examples/rtp-to-webrtc does
// the same); receiving, a video frame is an RTP packet with the marker bit
// set. The one thing not left to pion's defaults: an offer carries only the
// video codec under test (SetCodecPreferences, as the other parties do),
// so that both directions use it whoever offers. An answer is pion's own.
//
// Built in GOPATH mode against Debian's Go packages (no modules, no
// network): see tests/interop/meson.build.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v3"
)

// ---- Output ----

var outMu sync.Mutex

// emit writes one event line to stdout. os.Stdout is not buffered in Go:
// every line is out when this returns.
func emit(format string, args ...interface{}) {
	line := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " ")
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintln(os.Stdout, line)
}

// note writes a diagnostic line (or block) to stderr.
func note(format string, args ...interface{}) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func fail(what string, err error) {
	emit("error %s: %v", what, err)
}

// ---- Command line ----

type options struct {
	url, room, codec, name string
	send, recv             bool
}

func parseArgs() options {
	var o options
	var send, recv int
	flag.StringVar(&o.url, "url", "", "the room server's WebSocket URL (ws://HOST:PORT/ws)")
	flag.StringVar(&o.room, "room", "", "the room to join")
	flag.StringVar(&o.codec, "codec", "", "vp8 or h264")
	flag.IntVar(&send, "send", -1, "1: send a video and an audio track")
	flag.IntVar(&recv, "recv", -1, "1: receive and count video frames")
	flag.StringVar(&o.name, "name", "pion", "display name")
	flag.Parse()
	usage := "usage: --url ws://HOST:PORT/ws --room ROOM --codec vp8|h264 --send 0|1 --recv 0|1 [--name NAME]"
	switch {
	case flag.NArg() != 0, o.url == "", o.room == "":
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	case o.codec != "vp8" && o.codec != "h264":
		fmt.Fprintln(os.Stderr, "--codec must be vp8 or h264; "+usage)
		os.Exit(2)
	case send != 0 && send != 1, recv != 0 && recv != 1:
		fmt.Fprintln(os.Stderr, "--send and --recv must be 0 or 1; "+usage)
		os.Exit(2)
	case send == 0 && recv == 0:
		fmt.Fprintln(os.Stderr, "--send 0 --recv 0 makes no call")
		os.Exit(2)
	}
	o.send, o.recv = send == 1, recv == 1
	return o
}

// ---- Media in: gst-launch-1.0 -> UDP -> pion tracks ----

var (
	encoder   *exec.Cmd
	hangingUp atomic.Bool
)

func stopEncoder() {
	if encoder != nil && encoder.Process != nil {
		_ = encoder.Process.Signal(syscall.SIGTERM)
	}
}

type udpTrack struct {
	conn  *net.UDPConn
	track *webrtc.TrackLocalStaticRTP
}

// newUDPTrack opens a local UDP socket (first, so that gst-launch is told a
// port nobody else has) and a track its packets go into. The track rewrites
// SSRC and payload type to the negotiated ones; it drops packets while it
// is bound to no sender (before DTLS is up).
func newUDPTrack(capability webrtc.RTPCodecCapability, id string) (*udpTrack, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(capability, id, "pion")
	if err != nil {
		return nil, err
	}
	t := &udpTrack{conn, track}
	go func() {
		buf := make([]byte, 1600)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if _, err = track.Write(buf[:n]); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				note("writing to the %s track: %v", id, err)
			}
		}
	}()
	return t, nil
}

func (t *udpTrack) port() int { return t.conn.LocalAddr().(*net.UDPAddr).Port }

func startEncoder(codec string, video, audio *udpTrack) error {
	// Keyframes every second: gst-launch cannot hear the other side's PLI,
	// and whatever is encoded before DTLS is up (the first keyframe) is lost.
	enc := "vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=96 mtu=1200 picture-id-mode=15-bit"
	if codec == "h264" {
		enc = "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! " +
			"video/x-h264,profile=constrained-baseline ! " +
			"rtph264pay pt=96 mtu=1200 config-interval=-1 aggregate-mode=zero-latency"
	}
	desc := "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! " +
		enc + fmt.Sprintf(" ! udpsink host=127.0.0.1 port=%d sync=false ", video.port()) +
		"audiotestsrc is-live=true wave=ticks ! audioconvert ! audioresample ! opusenc ! " +
		fmt.Sprintf("rtpopuspay pt=111 mtu=1200 ! udpsink host=127.0.0.1 port=%d sync=false", audio.port())
	encoder = exec.Command("gst-launch-1.0", append([]string{"-q"}, strings.Fields(desc)...)...)
	encoder.Stderr = os.Stderr
	// If this process dies without stopping it (SIGKILL), it goes too.
	encoder.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := encoder.Start(); err != nil {
		return err
	}
	go func() {
		err := encoder.Wait()
		if !hangingUp.Load() {
			emit("error gst-launch-1.0 (the encoder) exited: %v", err)
		}
	}()
	return nil
}

// ---- Media out: counting frames ----

var (
	frames    atomic.Int64
	codecOnce sync.Once
)

func reportFrames() {
	var last int64
	for range time.Tick(500 * time.Millisecond) {
		if n := frames.Load(); n > last {
			last = n
			emit("recv-frames %d", n)
		}
	}
}

// consume reads a remote track to its end (reading is what runs pion's
// interceptors: NACK, receiver reports), counting the video frames.
func consume(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	codec := track.Codec()
	note("track: %s, ssrc %d, payload type %d, %s %s, stream %q id %q", track.Kind(), track.SSRC(),
		codec.PayloadType, codec.MimeType, codec.SDPFmtpLine, track.StreamID(), track.ID())
	// RTCP from the other side (sender reports) goes through the interceptors too.
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := receiver.Read(buf); err != nil {
				return
			}
		}
	}()
	video := track.Kind() == webrtc.RTPCodecTypeVideo
	if video {
		codecOnce.Do(func() { emit("recv-codec %s", codec.MimeType) })
	}
	for {
		p, _, err := track.ReadRTP()
		if err != nil {
			note("remote %s track ended: %v", track.Kind(), err)
			return
		}
		if video && p.Marker {
			frames.Add(1)
		}
	}
}

// ---- The call ----

type party struct {
	opts       options
	ws         *websocket.Conn
	wsMu       sync.Mutex // gorilla/websocket: one writer at a time
	api        *webrtc.API
	iceServers []webrtc.ICEServer
	video      *udpTrack
	audio      *udpTrack

	mu         sync.Mutex // pc, sdpSent and localIce, which pion callbacks touch
	pc         *webrtc.PeerConnection
	sdpSent    bool                       // the local description went out: candidates may follow
	localIce   []*webrtc.ICECandidateInit // gathered before that (nil: end of candidates)
	remoteIce  []*webrtc.ICECandidateInit // came before the remote description (nil: end)
	remoteDesc bool
}

func (p *party) send(msg interface{}) {
	data, err := json.Marshal(msg)
	if err != nil {
		fail("json", err)
		return
	}
	p.wsMu.Lock()
	defer p.wsMu.Unlock()
	if err := p.ws.WriteMessage(websocket.TextMessage, data); err != nil && !hangingUp.Load() {
		fail("websocket write", err)
	}
}

func (p *party) signal(data interface{}) {
	p.send(map[string]interface{}{"type": "signal", "data": data})
}

func (p *party) sendIce(c *webrtc.ICECandidateInit) {
	if c == nil {
		note("local candidates complete")
		p.signal(map[string]interface{}{"ice": nil})
		return
	}
	note("local candidate %s", c.Candidate)
	p.signal(map[string]interface{}{"ice": c})
}

// newAPI: what webrtc.NewPeerConnection does (default codecs, default
// interceptors), plus a logger that writes pion's warnings to stderr (pion's
// default logger writes to stdout, errors only).
func newAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	i := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, i); err != nil {
		return nil, err
	}
	logger := logging.NewDefaultLoggerFactory() // reads PION_LOG_<LEVEL>=all|scopes
	logger.Writer = os.Stderr
	if logger.DefaultLogLevel < logging.LogLevelWarn {
		logger.DefaultLogLevel = logging.LogLevelWarn
	}
	s := webrtc.SettingEngine{LoggerFactory: logger}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(i), webrtc.WithSettingEngine(s)), nil
}

func (p *party) newPeerConnection(offering bool) (*webrtc.PeerConnection, error) {
	// The room's ICE servers (welcome.ice_servers), not a STUN server of our own.
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{ICEServers: p.iceServers})
	if err != nil {
		return nil, err
	}
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) { emit("connection %s", s) })
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) { note("ice %s", s) })
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		var init *webrtc.ICECandidateInit
		if c != nil {
			j := c.ToJSON()
			init = &j
		}
		// Under p.mu, so that none overtakes those sentSDP flushes.
		p.mu.Lock()
		defer p.mu.Unlock()
		switch {
		case p.pc != pc: // a call that is over
		case !p.sdpSent:
			p.localIce = append(p.localIce, init)
		default:
			p.sendIce(init)
		}
	})
	pc.OnTrack(func(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
		go consume(track, receiver)
	})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) { note("data channel %q from the offerer", dc.Label()) })

	// Transceivers before any description, so that an answer takes the
	// offer's m-lines with them.
	dir := webrtc.RTPTransceiverDirectionRecvonly
	if p.opts.send && p.opts.recv {
		dir = webrtc.RTPTransceiverDirectionSendrecv
	} else if p.opts.send {
		dir = webrtc.RTPTransceiverDirectionSendonly
	}
	var videoTr *webrtc.RTPTransceiver
	if p.opts.send {
		for _, t := range []*udpTrack{p.video, p.audio} {
			tr, err := pc.AddTransceiverFromTrack(t.track, webrtc.RTPTransceiverInit{Direction: dir})
			if err != nil {
				return nil, err
			}
			if t == p.video {
				videoTr = tr
			}
			// RTCP from the other side (receiver reports, NACK, PLI) must be
			// read for the interceptors to act on it.
			go func(s *webrtc.RTPSender) {
				buf := make([]byte, 1500)
				for {
					if _, _, err := s.Read(buf); err != nil {
						return
					}
				}
			}(tr.Sender())
		}
	} else {
		for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
			tr, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: dir})
			if err != nil {
				return nil, err
			}
			if kind == webrtc.RTPCodecTypeVideo {
				videoTr = tr
			}
		}
	}
	if offering {
		// The video codec under test only (and its rtx), out of pion's defaults.
		mime := webrtc.MimeTypeVP8
		if p.opts.codec == "h264" {
			mime = webrtc.MimeTypeH264
		}
		var keep []webrtc.RTPCodecParameters
		pts := map[string]bool{}
		// A sendonly transceiver has no receiver, a recvonly one no sender.
		var all []webrtc.RTPCodecParameters
		if s := videoTr.Sender(); s != nil {
			all = s.GetParameters().Codecs
		} else {
			all = videoTr.Receiver().GetParameters().Codecs
		}
		for _, c := range all {
			if strings.EqualFold(c.MimeType, mime) {
				keep = append(keep, c)
				pts[fmt.Sprintf("apt=%d", c.PayloadType)] = true
			}
		}
		for _, c := range all {
			if strings.EqualFold(c.MimeType, "video/rtx") && pts[c.SDPFmtpLine] {
				keep = append(keep, c)
			}
		}
		if err := videoTr.SetCodecPreferences(keep); err != nil {
			return nil, err
		}
	}
	return pc, nil
}

// setPC makes @pc the call's peer connection, closing the one before.
func (p *party) setPC(pc *webrtc.PeerConnection) {
	p.mu.Lock()
	old := p.pc
	p.pc, p.sdpSent, p.localIce, p.remoteIce, p.remoteDesc = pc, false, nil, nil, false
	p.mu.Unlock()
	if old != nil {
		if err := old.Close(); err != nil {
			note("closing the old peer connection: %v", err)
		}
	}
}

// sentSDP: the local description is out; the candidates gathered meanwhile follow it.
func (p *party) sentSDP() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sdpSent = true
	for _, c := range p.localIce {
		p.sendIce(c)
	}
	p.localIce = nil
}

func (p *party) offer() error {
	emit("offering")
	pc, err := p.newPeerConnection(true)
	if err != nil {
		return err
	}
	p.setPC(pc)
	// docs/protocol.md: the offerer opens the "chat" channel before its offer.
	if _, err := pc.CreateDataChannel("chat", nil); err != nil {
		return err
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	note("local offer:\n%s", offer.SDP)
	p.signal(map[string]interface{}{"sdp": map[string]string{"type": "offer", "sdp": offer.SDP}})
	p.sentSDP()
	return nil
}

func (p *party) onSDP(desc webrtc.SessionDescription) error {
	note("remote %s:\n%s", desc.Type, desc.SDP)
	p.mu.Lock()
	pc := p.pc
	p.mu.Unlock()
	if desc.Type == webrtc.SDPTypeOffer {
		emit("answering")
		if pc == nil || pc.LocalDescription() != nil {
			var err error
			if pc, err = p.newPeerConnection(false); err != nil {
				return err
			}
			p.setPC(pc)
		}
		if err := pc.SetRemoteDescription(desc); err != nil {
			return fmt.Errorf("setRemoteDescription(offer): %w", err)
		}
		p.flushRemoteIce()
		answer, err := pc.CreateAnswer(nil)
		if err != nil {
			return fmt.Errorf("createAnswer: %w", err)
		}
		if err := pc.SetLocalDescription(answer); err != nil {
			return fmt.Errorf("setLocalDescription(answer): %w", err)
		}
		note("local answer:\n%s", answer.SDP)
		p.signal(map[string]interface{}{"sdp": map[string]string{"type": "answer", "sdp": answer.SDP}})
		p.sentSDP()
		return nil
	}
	if pc == nil {
		return errors.New("an answer, but no offer was made")
	}
	if err := pc.SetRemoteDescription(desc); err != nil {
		return fmt.Errorf("setRemoteDescription(answer): %w", err)
	}
	p.flushRemoteIce()
	return nil
}

func (p *party) flushRemoteIce() {
	p.mu.Lock()
	p.remoteDesc = true
	pending := p.remoteIce
	p.remoteIce = nil
	pc := p.pc
	p.mu.Unlock()
	for _, c := range pending {
		p.addIce(pc, c)
	}
}

func (p *party) addIce(pc *webrtc.PeerConnection, c *webrtc.ICECandidateInit) {
	if c == nil {
		// End of candidates: pion takes an empty candidate for it.
		c = &webrtc.ICECandidateInit{}
	} else {
		note("remote candidate %s", c.Candidate)
	}
	if err := pc.AddICECandidate(*c); err != nil {
		note("AddICECandidate(%q) refused: %v", c.Candidate, err)
	}
}

func (p *party) onIce(raw json.RawMessage) {
	var c *webrtc.ICECandidateInit
	if s := strings.TrimSpace(string(raw)); s != "null" {
		c = &webrtc.ICECandidateInit{}
		if err := json.Unmarshal(raw, c); err != nil {
			note("bad candidate %s: %v", raw, err)
			return
		}
		if c.Candidate == "" {
			c = nil // a browser's empty end-of-candidates
		}
	}
	p.mu.Lock()
	if p.pc == nil || !p.remoteDesc {
		p.remoteIce = append(p.remoteIce, c)
		p.mu.Unlock()
		return
	}
	pc := p.pc
	p.mu.Unlock()
	p.addIce(pc, c)
}

type message struct {
	Type       string                `json:"type"`
	ID         string                `json:"id"`
	Code       string                `json:"code"`
	Message    string                `json:"message"`
	Peers      []struct{ ID string } `json:"peers"`
	Peer       struct{ ID string }   `json:"peer"`
	IceServers []struct {
		URLs       interface{} `json:"urls"` // a string (docs/protocol.md), or a list as in RTCIceServer
		Username   string      `json:"username"`
		Credential string      `json:"credential"`
	} `json:"ice_servers"`
	Data map[string]json.RawMessage `json:"data"`
}

func (p *party) onMessage(m *message) error {
	switch m.Type {
	case "welcome":
		emit("joined %s", m.ID)
		for _, s := range m.IceServers {
			server := webrtc.ICEServer{Username: s.Username, Credential: s.Credential}
			switch u := s.URLs.(type) {
			case string:
				server.URLs = []string{u}
			case []interface{}:
				for _, x := range u {
					if str, ok := x.(string); ok {
						server.URLs = append(server.URLs, str)
					}
				}
			}
			p.iceServers = append(p.iceServers, server)
		}
		if len(m.Peers) > 0 {
			emit("peer %s", m.Peers[0].ID)
			return p.offer()
		}
	case "peer-joined":
		emit("peer %s", m.Peer.ID)
		// A new party brings a new call: it offers, this party answers.
		p.setPC(nil)
	case "peer-left":
		note("peer left %s", m.Peer.ID)
		p.setPC(nil)
	case "signal":
		if raw, ok := m.Data["sdp"]; ok {
			var desc struct{ Type, SDP string }
			if err := json.Unmarshal(raw, &desc); err != nil {
				return err
			}
			return p.onSDP(webrtc.SessionDescription{Type: webrtc.NewSDPType(desc.Type), SDP: desc.SDP})
		} else if raw, ok := m.Data["ice"]; ok {
			p.onIce(raw)
		}
	case "error":
		emit("error server: %s: %s", m.Code, m.Message)
	default:
		note("ignored message %q", m.Type)
	}
	return nil
}

// readLoop handles the server's messages one after the other (a candidate
// must not overtake the description before it). It returns when the
// WebSocket ends.
func (p *party) readLoop() {
	for {
		kind, data, err := p.ws.ReadMessage()
		if err != nil {
			if !hangingUp.Load() {
				fail("websocket closed", err)
				stopEncoder()
				os.Exit(1)
			}
			return
		}
		if kind != websocket.TextMessage {
			continue
		}
		var m message
		if err := json.Unmarshal(data, &m); err != nil {
			fail("bad JSON from the server", err)
			continue
		}
		if err := p.onMessage(&m); err != nil {
			fail(m.Type, err)
		}
	}
}

func (p *party) hangup(readDone <-chan struct{}) {
	hangingUp.Store(true)
	// The peer connection first (DTLS close_notify, SCTP), then the
	// WebSocket, with a closing handshake.
	p.mu.Lock()
	pc := p.pc
	p.mu.Unlock()
	if pc != nil {
		done := make(chan error, 1)
		go func() { done <- pc.Close() }()
		select {
		case err := <-done:
			if err != nil {
				note("closing the peer connection: %v", err)
			}
		case <-time.After(3 * time.Second):
			note("the peer connection did not close in 3 s")
		}
	}
	p.wsMu.Lock()
	err := p.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	p.wsMu.Unlock()
	if err == nil {
		select {
		case <-readDone:
		case <-time.After(3 * time.Second):
		}
	}
	p.ws.Close()
	stopEncoder()
	emit("hungup")
	os.Exit(0)
}

func main() {
	opts := parseArgs()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		stopEncoder()
		os.Exit(128 + int(s.(syscall.Signal)))
	}()

	p := &party{opts: opts}
	var err error
	if p.api, err = newAPI(); err != nil {
		fail("pion", err)
		os.Exit(1)
	}
	if opts.send {
		video := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
		if opts.codec == "h264" {
			video = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
				SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}
		}
		if p.video, err = newUDPTrack(video, "video"); err == nil {
			p.audio, err = newUDPTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio")
		}
		if err == nil {
			err = startEncoder(opts.codec, p.video, p.audio)
		}
		if err != nil {
			fail("media", err)
			stopEncoder()
			os.Exit(1)
		}
	}
	if opts.recv {
		go reportFrames()
	}

	p.ws, _, err = websocket.DefaultDialer.Dial(opts.url, nil)
	if err != nil {
		fail("websocket", err)
		stopEncoder()
		os.Exit(1)
	}
	join := map[string]interface{}{"type": "join", "room": opts.room, "version": 1, "name": opts.name}
	p.send(join)

	readDone := make(chan struct{})
	go func() {
		p.readLoop()
		close(readDone)
	}()

	// stdin: "hangup" or EOF.
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "hangup" {
			break
		}
		if line != "" {
			note("stdin: ignored %q", line)
		}
	}
	p.hangup(readDone)
}
