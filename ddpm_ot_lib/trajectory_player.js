// The kernel-free trajectory player of ddpm_ot_lib.widgets.trajectory_player.
//
// The page holds, inside div.ddpm-player#uid: an inline svg element whose
// g.ddpm-player-density holds the 1σ and 2σ ellipses of p_t (attribute data-k = 1, 2)
// and whose g.ddpm-player-particles holds one circle per particle; a
// button.ddpm-player-play, an input.ddpm-player-slider (0 .. m-1), a
// .ddpm-player-time label; and script.ddpm-player-data: JSON with
//   "t" (m,) the times; "p" (m, 2n) the particle coordinates; "e" (m, 5) the
//   ellipse's centre, 1σ semi-axes and angle (degrees); "c" (m,) its colour;
//   "ox", "oy", "s": the map from data to pixels, (ox + s x, oy - s y).
// Every number was computed in Python; this script only moves what is drawn.
// Python inlines this file and calls it with (uid, milliseconds per frame).
(function (uid, frameMs) {
  "use strict";
  // @include player_root.js
  var D = JSON.parse(root.querySelector("script.ddpm-player-data").textContent);
  var m = D.t.length;
  var slider = root.querySelector(".ddpm-player-slider");
  var label = root.querySelector(".ddpm-player-time");
  var button = root.querySelector(".ddpm-player-play");
  var density = root.querySelector(".ddpm-player-density");
  var ellipses = density.querySelectorAll("ellipse");
  var particles = root.querySelector(".ddpm-player-particles");
  var circles = particles.querySelectorAll("circle");
  var timer = null;

  function X(v) { return (D.ox + D.s * v).toFixed(1); }
  function Y(v) { return (D.oy - D.s * v).toFixed(1); }
  function draw(k) {
    var f = D.p[k], e = D.e[k], cx = X(e[0]), cy = Y(e[1]);
    for (var i = 0; i < circles.length; i++) {
      circles[i].setAttribute("cx", X(f[2 * i]));
      circles[i].setAttribute("cy", Y(f[2 * i + 1]));
    }
    for (var j = 0; j < ellipses.length; j++) {
      var q = +ellipses[j].getAttribute("data-k");
      ellipses[j].setAttribute("cx", cx);
      ellipses[j].setAttribute("cy", cy);
      ellipses[j].setAttribute("rx", (q * D.s * e[2]).toFixed(1));
      ellipses[j].setAttribute("ry", (q * D.s * e[3]).toFixed(1));
      ellipses[j].setAttribute("transform", "rotate(" + (-e[4]) + " " + cx + " " + cy + ")");
    }
    density.setAttribute("stroke", D.c[k]);
    particles.setAttribute("fill", D.c[k]);
    label.textContent = "t = " + D.t[k].toFixed(2);
  }
  // @include player_controls.js
})
