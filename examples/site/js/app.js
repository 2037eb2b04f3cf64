document.title += " (" + document.getElementById("version").textContent + ")";
