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
  var here = document.currentScript;
  var root = (here && here.closest && here.closest("div.ddpm-player")) || document.getElementById(uid);
  if (!root || root.getAttribute("data-ddpm-ready")) return;
  root.setAttribute("data-ddpm-ready", "1");
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
  function stop() {
    clearInterval(timer);
    timer = null;
    button.textContent = "\u25B6 play";
  }
  slider.addEventListener("input", function () {
    stop();
    draw(+slider.value);
  });
  button.addEventListener("click", function () {
    if (timer) { stop(); return; }
    var k = +slider.value;
    if (k >= m - 1) k = -1;
    button.textContent = "\u275A\u275A pause";
    timer = setInterval(function () {
      k += 1;
      if (k >= m) { stop(); return; }
      slider.value = k;
      draw(k);
    }, frameMs);
  });
})
