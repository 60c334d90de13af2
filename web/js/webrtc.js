// "Monitor my call": capture a tab/window or the webcam and send it to the server over WebRTC.
// The server does not trickle ICE, so the offer is posted only once gathering is complete.

import { postOffer } from "./api.js";

const ICE_GATHER_TIMEOUT_MS = 5000;

/** Local capture sessions started from this page, by stream id (the stream view shows their preview). */
export const sessions = new Map();

/** Ask the browser for a picture: "screen" = a tab or window (getDisplayMedia), "camera" = the webcam. */
export async function capture(kind) {
  const md = navigator.mediaDevices;
  if (!md) throw new Error("this browser has no media devices here (the page needs https or localhost)");
  if (kind === "screen") {
    if (!md.getDisplayMedia) throw new Error("this browser cannot share a tab or window (try the webcam)");
    return md.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
  }
  return md.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false });
}

function iceGatheringComplete(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    // Without a STUN server gathering ends quickly; the timeout only guards a stuck gatherer.
    const timer = setTimeout(done, ICE_GATHER_TIMEOUT_MS);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === "complete") done();
    }
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/**
 * Send `media` (a MediaStream) to the server. Resolves with a session {streamId, media, pc, stop()}
 * once the server has answered; `onEnded(session)` runs when the capture or connection ends.
 */
export async function sendToServer(media, name, onEnded) {
  const pc = new RTCPeerConnection();
  for (const track of media.getVideoTracks()) pc.addTrack(track, media);
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringComplete(pc);
    const answer = await postOffer({ sdp: pc.localDescription.sdp, type: "offer", name });
    await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
    return track(answer.stream, media, pc, onEnded);
  } catch (err) {
    pc.close();
    media.getTracks().forEach((t) => t.stop()); // or the camera light stays on after a refused offer
    throw err;
  }
}

function track(streamId, media, pc, onEnded) {
  const session = { streamId, media, pc, stopped: false };
  session.stop = () => {
    if (session.stopped) return;
    session.stopped = true;
    media.getTracks().forEach((t) => t.stop());
    pc.close();
    sessions.delete(streamId);
    onEnded?.(session);
  };
  // The browser's own "Stop sharing" bar ends the track: treat it like our stop button.
  media.getVideoTracks().forEach((t) => t.addEventListener("ended", session.stop));
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "failed") session.stop();
  });
  sessions.set(streamId, session);
  return session;
}
