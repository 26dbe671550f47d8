// The controls shared by the kernel-free players of ddpm_ot_lib.players: the play/pause
// button and the slider. Not a script of its own: player.js and trajectory_player.js
// include it where they say "// @include player_controls.js" (ddpm_ot_lib.players
// inlines it there when a player is rendered, dropping this comment), inside their
// function, where `button`, `slider`, `m`, `frameMs`, `timer` and `draw(k)` are defined.
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
