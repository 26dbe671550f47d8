// The kernel-free frame player of ddpm_ot_lib.widgets.frame_player.
//
// The page holds, inside div.ddpm-player#uid: an inline svg element with one image element
// (frame 0, a PNG data URI), a button.ddpm-player-play, an input.ddpm-player-slider
// (0 .. m-1), a .ddpm-player-time label, and script.ddpm-player-data: JSON with
//   "labels": the m label texts ("t = 0.25"),
//   "frame":  for each of the m steps, the index of its picture in "png",
//   "png":    the distinct pictures as base64 PNG; entry 0 is "" (it is the
//             the image's initial href, not repeated).
// Every picture was drawn in Python; this script only swaps the href and the label.
// Python inlines this file and calls it with (uid, milliseconds per frame).
(function (uid, frameMs) {
  "use strict";
  // @include player_root.js
  var data = JSON.parse(root.querySelector("script.ddpm-player-data").textContent);
  var slider = root.querySelector(".ddpm-player-slider");
  var label = root.querySelector(".ddpm-player-time");
  var button = root.querySelector(".ddpm-player-play");
  var image = root.querySelector("svg image");
  var first = image.getAttribute("href");
  var m = data.labels.length;
  var timer = null;

  function source(k) {
    var j = data.frame[k];
    return j === 0 ? first : "data:image/png;base64," + data.png[j];
  }
  function draw(k) {
    image.setAttribute("href", source(k));
    label.textContent = data.labels[k];
  }
  // @include player_controls.js
})
