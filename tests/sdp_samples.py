"""Realistic SDP shared by tests: what Chromium answers to Aether's offer."""

# What Chromium answers to the server's offer (BUNDLE video0 audio1, H.264 96, Opus 111).
ANSWER_LINES = (
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE video0 audio1",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS",
    "m=video 9 UDP/TLS/RTP/SAVPF 96",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:x9cl",
    "a=ice-pwd:ZhTS8rjiJ1UE3fGBXKLaCZwS",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 1C:0E:4A:9F:3B:D2:77:85:E0:6C:12:A9:F4:5B:38:C1:"
    "9D:60:27:EB:4F:A3:88:D1:0B:72:C5:19:E6:3A:F0:54",
    "a=setup:active",
    "a=mid:video0",
    "a=recvonly",
    "a=rtcp-mux",
    "a=rtcp-rsize",
    "a=rtpmap:96 H264/90000",
    "a=rtcp-fb:96 ccm fir",
    "a=rtcp-fb:96 nack pli",
    "a=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42c028",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:x9cl",
    "a=ice-pwd:ZhTS8rjiJ1UE3fGBXKLaCZwS",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 1C:0E:4A:9F:3B:D2:77:85:E0:6C:12:A9:F4:5B:38:C1:"
    "9D:60:27:EB:4F:A3:88:D1:0B:72:C5:19:E6:3A:F0:54",
    "a=setup:active",
    "a=mid:audio1",
    "a=recvonly",
    "a=rtcp-mux",
    "a=rtpmap:111 opus/48000/2",
    "a=fmtp:111 minptime=10;useinbandfec=1",
)
ANSWER = "\r\n".join(ANSWER_LINES) + "\r\n"
