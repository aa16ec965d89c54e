// Nhịp console: the row menus of the lists ("⋯" button, right-click, Shift+F10 or the
// context-menu key on a focused row; Escape closes; arrow keys move between items).
(function () {
  "use strict";

  function items(menu) {
    return Array.prototype.slice.call(menu.querySelectorAll('[role="menuitem"]'));
  }

  function closeAll(except) {
    document.querySelectorAll(".row-menu").forEach(function (menu) {
      if (menu === except) return;
      menu.hidden = true;
      var button = document.querySelector('[aria-controls="' + menu.id + '"]');
      if (button) button.setAttribute("aria-expanded", "false");
    });
  }

  function open(menu, x, y) {
    closeAll(menu);
    menu.hidden = false;
    var button = document.querySelector('[aria-controls="' + menu.id + '"]');
    if (button) button.setAttribute("aria-expanded", "true");
    if (typeof x === "number") {
      menu.classList.add("floating");
      menu.style.left = x + "px";
      menu.style.top = y + "px";
    } else {
      menu.classList.remove("floating");
      menu.style.left = "";
      menu.style.top = "";
    }
    var first = items(menu)[0];
    if (first) first.focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".menu-button");
    if (button) {
      var menu = document.getElementById(button.getAttribute("aria-controls"));
      if (menu.hidden) open(menu); else closeAll();
      event.preventDefault();
      return;
    }
    if (event.target.closest('.row-menu [role="menuitem"]')) {
      closeAll();
      return;
    }
    if (!event.target.closest(".row-menu")) closeAll();
  });

  document.addEventListener("contextmenu", function (event) {
    var row = event.target.closest("tr[data-menu]");
    if (!row) return;
    event.preventDefault();
    open(document.getElementById(row.dataset.menu), event.pageX, event.pageY);
  });

  document.addEventListener("keydown", function (event) {
    var row = event.target.closest && event.target.closest("tr[data-menu]");
    var inMenu = event.target.closest && event.target.closest(".row-menu");
    if (row && !inMenu && (event.key === "ContextMenu" || (event.shiftKey && event.key === "F10"))) {
      event.preventDefault();
      open(document.getElementById(row.dataset.menu));
      return;
    }
    if (!inMenu) {
      if (event.key === "Escape") closeAll();
      return;
    }
    var list = items(inMenu);
    var at = list.indexOf(document.activeElement);
    if (event.key === "Escape") {
      event.preventDefault();
      closeAll();
      var button = document.querySelector('[aria-controls="' + inMenu.id + '"]');
      if (button) button.focus();
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      list[(at + 1) % list.length].focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      list[(at - 1 + list.length) % list.length].focus();
    }
  });

  // After htmx fills the panel, move the focus there so keyboard users land on it.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "panel") {
      var heading = event.detail.target.querySelector("h2");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus();
      }
    }
  });
})();
