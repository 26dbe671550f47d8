// The start shared by the kernel-free players of ddpm_ot_lib.players: find the player's
// root div (the script's own div.ddpm-player, else the element with id uid) and mark it
// ready, so that a page holding the output twice runs each player once. Not a script of
// its own: player.js and trajectory_player.js include it where they say
// "// @include player_root.js", inside their function (uid, frameMs).
  var here = document.currentScript;
  var root = (here && here.closest && here.closest("div.ddpm-player")) || document.getElementById(uid);
  if (!root || root.getAttribute("data-ddpm-ready")) return;
  root.setAttribute("data-ddpm-ready", "1");
